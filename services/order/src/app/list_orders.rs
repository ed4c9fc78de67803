//! ListOrders: the caller's orders (an admin's: everyone's), filtered, newest first, a page at
//! a time (keyset pagination: the token is where the previous page ended).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shop_auth::Caller;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::ports::OrderFilter;
use super::{OrderError, Orders};
use crate::domain::{Order, OrderStatus};

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

/// What a caller asked to see, before it is checked against who they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub page_size: i32,
    pub page_token: String,
    pub status: Option<OrderStatus>,
    /// Empty: the caller's own orders (a customer) or everyone's (an admin).
    pub customer_id: String,
    pub placed_from: Option<DateTime<Utc>>,
    pub placed_before: Option<DateTime<Utc>>,
}

impl Orders {
    pub async fn list_orders(
        &self,
        caller: &Caller,
        query: ListQuery,
    ) -> Result<OrderPage, OrderError> {
        let ListQuery {
            page_size,
            page_token,
            status,
            customer_id,
            placed_from,
            placed_before,
        } = query;
        let page_token = page_token.as_str();
        let mut violations = Violations::new();
        let customer = if customer_id.is_empty() {
            None
        } else {
            violations.check(
                "customer_id",
                Uuid::parse_str(&customer_id).map_err(|_| "must be a UUID"),
            )
        };
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
        // A customer sees their own orders only; an admin everyone's, or one customer's.
        let user_id = if caller.is_admin() {
            customer
        } else {
            match customer {
                Some(other) if other != caller.user_id() => return Err(OrderError::Forbidden),
                _ => Some(caller.user_id()),
            }
        };
        let filter = OrderFilter {
            user_id,
            status,
            placed_from,
            placed_before,
        };
        let size = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            i64::from(page_size).min(MAX_PAGE_SIZE)
        };
        let mut orders = self.store.list(&filter, after, size + 1).await?;
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
