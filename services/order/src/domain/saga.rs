//! Which step an order's saga takes next: decided from the order alone, so any driver (the
//! placing request, or the recovery worker after a crash) takes the same one.

use chrono::{DateTime, Utc};

use super::{Order, OrderStatus, RejectReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Hold the stock (inventory.ReserveStock).
    Reserve,
    /// Take the money (payment.Charge); then confirm.
    Charge,
    /// Undo: give any money back (payment.Refund), release the stock, then reject.
    Compensate(RejectReason),
    /// Nothing left to do.
    Done,
}

pub fn next_step(order: &Order, now: DateTime<Utc>) -> Step {
    if order.status().is_terminal() {
        return Step::Done;
    }
    if let Some(reason) = order.compensation() {
        return Step::Compensate(reason);
    }
    if now > order.saga_deadline() {
        return Step::Compensate(RejectReason::Timeout);
    }
    match order.status() {
        OrderStatus::Pending => Step::Reserve,
        OrderStatus::Reserved => Step::Charge,
        OrderStatus::Confirmed
        | OrderStatus::Rejected
        | OrderStatus::Cancelled
        | OrderStatus::Shipped
        | OrderStatus::Delivered => Step::Done,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{LineItem, OrderState};

    fn order(
        status: OrderStatus,
        deadline_in_secs: i64,
        compensation: Option<RejectReason>,
    ) -> Order {
        // Any state at all, as it could have been stored.
        Order::restore(OrderState {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            status,
            reason: None,
            compensation,
            lines: vec![LineItem {
                product_id: Uuid::now_v7(),
                quantity: 1,
                priced: None,
            }],
            shipping: None,
            subtotal: None,
            total: None,
            tracking: None,
            saga_deadline: Utc::now() + chrono::Duration::seconds(deadline_in_secs),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        })
    }

    #[test]
    fn the_next_step_follows_the_status_until_the_deadline() {
        let now = Utc::now();
        assert_eq!(
            next_step(&order(OrderStatus::Pending, 60, None), now),
            Step::Reserve
        );
        assert_eq!(
            next_step(&order(OrderStatus::Reserved, 60, None), now),
            Step::Charge
        );
        assert_eq!(
            next_step(&order(OrderStatus::Reserved, -1, None), now),
            Step::Compensate(RejectReason::Timeout)
        );
        assert_eq!(
            next_step(
                &order(
                    OrderStatus::Reserved,
                    60,
                    Some(RejectReason::PaymentDeclined)
                ),
                now
            ),
            Step::Compensate(RejectReason::PaymentDeclined)
        );
        for done in [
            OrderStatus::Confirmed,
            OrderStatus::Rejected,
            OrderStatus::Cancelled,
        ] {
            assert_eq!(next_step(&order(done, -1, None), now), Step::Done);
        }
    }
}
