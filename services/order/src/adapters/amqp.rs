//! Event consumers of the order service (inbound adapter): each event becomes a call to the use
//! case that reacts to it.

use async_trait::async_trait;
use shop_events::Envelope;
use shop_events::payment::PaymentRefunded;
use shop_messaging::{EventHandler, Handled, InboxEntry};

use crate::app::Orders;

/// Handles `payment.refunded`.
#[derive(Debug, Clone)]
pub struct RefundsToTimeline {
    orders: Orders,
}

impl RefundsToTimeline {
    pub fn new(orders: Orders) -> Self {
        Self { orders }
    }
}

#[async_trait]
impl EventHandler<PaymentRefunded> for RefundsToTimeline {
    async fn handle(
        &self,
        event: &Envelope<PaymentRefunded>,
        entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        let refund = &event.data;
        self.orders
            .record_refund(
                refund.order_id,
                &refund.amount,
                &refund.reason,
                refund.refunded_at,
                entry,
            )
            .await
    }
}
