//! Event consumers of the payment service (inbound adapter): a cancelled order is refunded.

use async_trait::async_trait;
use shop_events::Envelope;
use shop_events::order::OrderCancelled;
use shop_messaging::EventHandler;
use sqlx::PgConnection;

use crate::app::{PaymentError, Payments};

/// Handles `order.cancelled`. The refund is idempotent by order id on its own, so it runs in
/// its own transaction (it talks to the processor) rather than the inbox's.
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
        _tx: &mut PgConnection,
    ) -> anyhow::Result<()> {
        match self
            .payments
            .refund(event.data.order_id, "order_cancelled")
            .await
        {
            Ok(_) | Err(PaymentError::NotFound) => Ok(()),
            Err(err) => Err(anyhow::Error::new(err).context("refunding the cancelled order")),
        }
    }
}
