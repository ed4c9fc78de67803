//! ListOrders: the caller's orders, newest first, a page at a time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_auth::Caller;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::{OrderError, Orders};
use crate::domain::Order;

const DEFAULT_PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i64 = 100;

/// Where the previous page ended: opaque to clients.
#[derive(Serialize, Deserialize)]
struct Cursor {
    #[serde(rename = "c")]
    created_at: DateTime<Utc>,
    #[serde(rename = "i")]
    id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderPage {
    pub orders: Vec<Order>,
    pub next_page_token: Option<String>,
}

impl Orders {
    pub async fn list_orders(
        &self,
        caller: &Caller,
        page_size: i32,
        page_token: &str,
    ) -> Result<OrderPage, OrderError> {
        let mut violations = Violations::new();
        if page_size < 0 {
            violations.add("page_size", "must not be negative");
        }
        let after = if page_token.is_empty() {
            None
        } else {
            let cursor = URL_SAFE_NO_PAD
                .decode(page_token)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Cursor>(&bytes).ok());
            if cursor.is_none() {
                violations.add("page_token", "is not a page token from a previous response");
            }
            cursor.map(|c| (c.created_at, c.id))
        };
        violations.into_result()?;
        let size = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            i64::from(page_size).min(MAX_PAGE_SIZE)
        };
        let mut orders = self.store.list(caller.user_id(), after, size + 1).await?;
        let limit = usize::try_from(size).unwrap_or(usize::MAX);
        let next_page_token = if orders.len() > limit {
            orders.truncate(limit);
            orders.last().map(|last| {
                let cursor = Cursor {
                    created_at: last.created_at(),
                    id: last.id(),
                };
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default())
            })
        } else {
            None
        };
        Ok(OrderPage {
            orders,
            next_page_token,
        })
    }
}
