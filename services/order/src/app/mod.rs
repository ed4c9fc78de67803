//! Use cases of the order service, one file each, and the ports they depend on.

mod cancel_order;
mod cart;
mod error;
pub mod events;
mod fulfil_order;
mod get_order;
mod list_orders;
mod payment_events;
mod place_order;
pub mod ports;
mod recovery;
mod saga;

use std::sync::Arc;
use std::time::Duration;

pub use cart::Carts;
pub use error::OrderError;
pub use list_orders::{ListQuery, OrderPage};
use ports::{InventoryPort, OrderStore, PaymentPort};

/// The saga's clocks.
#[derive(Debug, Clone, Copy)]
pub struct SagaPolicy {
    /// From placement: after this the saga is compensated, never confirmed. Shorter than the
    /// inventory's reservation TTL, so a live saga never loses its stock.
    pub deadline: Duration,
    /// How long PlaceOrder drives the saga before answering with the order as it stands.
    pub request_budget: Duration,
    /// How long a driver holds an order before the recovery worker may take over.
    pub lease: Duration,
    /// How long a duplicate PlaceOrder waits for the first to finish.
    pub duplicate_wait: Duration,
    /// How long the recovery worker drives one order per round.
    pub recovery_budget: Duration,
    /// How many stalled sagas the recovery worker claims and drives at once per round.
    pub recovery_concurrency: usize,
}

/// The order service's application: every use case is a method, in its own file.
#[derive(Clone)]
pub struct Orders {
    store: Arc<dyn OrderStore>,
    inventory: Arc<dyn InventoryPort>,
    payment: Arc<dyn PaymentPort>,
    /// Checkout reads the customer's cart and prices it.
    carts: Carts,
    policy: SagaPolicy,
}

impl std::fmt::Debug for Orders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Orders")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Orders {
    pub fn new(
        store: Arc<dyn OrderStore>,
        inventory: Arc<dyn InventoryPort>,
        payment: Arc<dyn PaymentPort>,
        carts: Carts,
        policy: SagaPolicy,
    ) -> Self {
        Self {
            store,
            inventory,
            payment,
            carts,
            policy,
        }
    }
}

/// An order with its history, as GetOrder shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    pub order: crate::domain::Order,
    pub timeline: Vec<crate::domain::TimelineEntry>,
}
