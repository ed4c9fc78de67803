//! Event consumers of the {{name}} service (inbound adapter): each event becomes a call to the
//! use case that reacts to it.

use async_trait::async_trait;
use shop_events::Envelope;
use shop_events::order::OrderConfirmed;
use shop_messaging::{EventHandler, Handled, InboxEntry};

use crate::app::Notes;

/// Handles `order.confirmed`.
#[derive(Debug, Clone)]
pub struct OrderConfirmations {
    notes: Notes,
}

impl OrderConfirmations {
    pub fn new(notes: Notes) -> Self {
        Self { notes }
    }
}

#[async_trait]
impl EventHandler<OrderConfirmed> for OrderConfirmations {
    async fn handle(
        &self,
        event: &Envelope<OrderConfirmed>,
        entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        let confirmed = &event.data;
        self.notes
            .note_confirmed_order(
                confirmed.order_id,
                confirmed.user_id,
                &confirmed.total,
                confirmed.confirmed_at,
                entry,
            )
            .await
    }
}
