//! Event consumers of the payment service (inbound adapter): a cancelled order is refunded.

use async_trait::async_trait;
use shop_events::Envelope;
use shop_events::order::OrderCancelled;
use shop_messaging::{DependencyUnavailable, EventHandler, Handled, InboxEntry};

use crate::app::{PaymentError, Payments};

/// Handles `order.cancelled`. The refund is idempotent by order id on its own, so the inbox
/// entry is not needed to apply it once.
#[derive(Debug, Clone)]
pub struct OrderCancellations {
    payments: Payments,
}

impl OrderCancellations {
    pub fn new(payments: Payments) -> Self {
        Self { payments }
    }
}

#[async_trait]
impl EventHandler<OrderCancelled> for OrderCancellations {
    async fn handle(
        &self,
        event: &Envelope<OrderCancelled>,
        _entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        match self
            .payments
            .refund_cancelled_order(event.data.order_id)
            .await
        {
            Ok(()) => Ok(Handled::Applied),
            // The processor is down: the refund waits for it, holding the event, rather than
            // spending the event's attempts and ending in the dead-letter queue.
            Err(PaymentError::Unavailable(reason)) => Err(DependencyUnavailable {
                what: "the card processor",
                reason,
            }
            .into()),
            Err(err) => Err(anyhow::Error::new(err).context("refunding the cancelled order")),
        }
    }
}
