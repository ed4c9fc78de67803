//! Event consumers of the inventory service (inbound adapter): each event becomes a call to the
//! use case that reacts to it; the use case's store records the event in the inbox with its
//! effect, so a redelivered event changes stock once.

use async_trait::async_trait;
use shop_events::Envelope;
use shop_events::order::{OrderCancelled, OrderConfirmed};
use shop_messaging::{EventHandler, Handled, InboxEntry};

use crate::app::Inventory;

/// Handles `order.confirmed` and `order.cancelled`.
#[derive(Debug, Clone)]
pub struct OrderEvents {
    inventory: Inventory,
}

impl OrderEvents {
    pub fn new(inventory: Inventory) -> Self {
        Self { inventory }
    }
}

#[async_trait]
impl EventHandler<OrderConfirmed> for OrderEvents {
    async fn handle(
        &self,
        event: &Envelope<OrderConfirmed>,
        entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        self.inventory
            .sell_confirmed_order(event.data.order_id, entry)
            .await
    }
}

#[async_trait]
impl EventHandler<OrderCancelled> for OrderEvents {
    async fn handle(
        &self,
        event: &Envelope<OrderCancelled>,
        entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        self.inventory
            .restock_cancelled_order(event.data.order_id, entry)
            .await
    }
}
