//! Event consumers of the order service (inbound adapter): a refund appears in the order's
//! timeline.

use async_trait::async_trait;
use shop_events::Envelope;
use shop_events::payment::PaymentRefunded;
use shop_messaging::EventHandler;
use sqlx::PgConnection;

use super::postgres::append_timeline;
use crate::domain::TimelineEntry;

/// Handles `payment.refunded`, inside the consumer's inbox transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefundsToTimeline;

#[async_trait]
impl EventHandler<PaymentRefunded> for RefundsToTimeline {
    async fn handle(
        &self,
        event: &Envelope<PaymentRefunded>,
        tx: &mut PgConnection,
    ) -> anyhow::Result<()> {
        let amount = &event.data.amount;
        let entry = TimelineEntry {
            at: event.data.refunded_at,
            event: "refunded".to_owned(),
            detail: format!("{amount} ({})", event.data.reason),
        };
        if !append_timeline(tx, event.data.order_id, &entry).await? {
            tracing::warn!(order_id = %event.data.order_id, "refund for an order this service does not know");
        }
        Ok(())
    }
}
