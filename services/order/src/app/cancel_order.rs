//! CancelOrder: call off a confirmed order. Stock and money go back through `order.cancelled`.

use shop_auth::Caller;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::events::order_cancelled;
use super::ports::{Change, OutgoingEvent};
use super::{OrderError, OrderView, Orders};
use crate::domain::OrderStatus;

/// The payment service records a refund's reason, which is this, up to the same bound.
const MAX_REASON: usize = 200;

impl Orders {
    /// Owner or admin; someone else's order is NOT_FOUND. Cancelling twice returns the order.
    #[tracing::instrument(name = "orders.cancel", skip_all, err(Debug))]
    pub async fn cancel_order(
        &self,
        caller: &Caller,
        order_id: &str,
        reason: &str,
    ) -> Result<OrderView, OrderError> {
        let mut violations = Violations::new();
        let id = violations.check(
            "order_id",
            Uuid::parse_str(order_id).map_err(|_| "must be a UUID"),
        );
        if violations.text("reason", reason) && reason.chars().count() > MAX_REASON {
            violations.add("reason", format!("must be at most {MAX_REASON} characters"));
        }
        let Some(id) = id else {
            return Err(violations.into());
        };
        violations.into_result()?;

        let mut order = self
            .store
            .get(id)
            .await?
            .filter(|o| caller.may_access(o.user_id()))
            .ok_or(OrderError::NotFound)?;
        match order.status() {
            OrderStatus::Cancelled => return self.view(order).await,
            OrderStatus::Confirmed => {}
            OrderStatus::Shipped | OrderStatus::Delivered => {
                return Err(OrderError::AlreadyShipped(
                    "this order has been shipped and can no longer be cancelled".to_owned(),
                ));
            }
            other => {
                return Err(OrderError::FailedPrecondition(format!(
                    "only a confirmed order can be cancelled; this one is {}",
                    other.as_str()
                )));
            }
        }
        let reason = if reason.trim().is_empty() {
            "cancelled_by_customer"
        } else {
            reason.trim()
        };
        let timeline = order
            .cancel(reason, chrono::Utc::now())
            .map_err(|err| OrderError::FailedPrecondition(err.to_string()))?;
        let event = OutgoingEvent::Cancelled(order_cancelled(&order, reason));
        let applied = self
            .store
            .apply(Change {
                from: OrderStatus::Confirmed,
                from_compensation: None,
                order: order.clone(),
                timeline,
                event: Some(event),
                lease: None,
            })
            .await?;
        if applied {
            metrics::counter!("orders_cancelled_total").increment(1);
        }
        // Either we cancelled it, or a concurrent cancel did: both read back as cancelled.
        let order = self.store.get(id).await?.ok_or(OrderError::NotFound)?;
        self.view(order).await
    }
}
