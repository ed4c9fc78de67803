//! Use cases of the inventory service, one file each, and the ports they depend on.

mod adjust_stock;
mod create_product;
mod error;
mod expire_reservations;
mod get_products;
mod list_products;
mod order_events;
pub mod ports;
mod release_reservation;
mod reserve_stock;
#[cfg(test)]
mod testing;
mod update_product;

use shop_platform::flags::Flags;
use std::sync::Arc;

pub use create_product::CreateProduct;
pub use error::InventoryError;
pub use list_products::{MAX_PAGE_SIZE, ProductPage};
use ports::{CatalogStore, ReservationStore};

/// The inventory application: every use case is a method, in its own file.
#[derive(Clone)]
pub struct Inventory {
    catalog: Arc<dyn CatalogStore>,
    reservations: Arc<dyn ReservationStore>,
    /// How long a reservation holds stock before the expiry worker takes it back. Longer than
    /// the order saga's deadline, so a live saga never loses its stock.
    reservation_ttl: chrono::Duration,
    /// Runtime flags: `inventory-latency-ms` slows the saga's steps on purpose.
    flags: Flags,
}

/// The runtime flag that adds latency to every ReserveStock and ReleaseReservation.
pub const LATENCY_FLAG: &str = "inventory-latency-ms";

impl std::fmt::Debug for Inventory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inventory")
            .field("reservation_ttl", &self.reservation_ttl)
            .finish_non_exhaustive()
    }
}

impl Inventory {
    pub fn new(
        catalog: Arc<dyn CatalogStore>,
        reservations: Arc<dyn ReservationStore>,
        reservation_ttl: chrono::Duration,
    ) -> Self {
        Self {
            catalog,
            reservations,
            reservation_ttl,
            flags: Flags::default(),
        }
    }

    /// The same, with faults that `flags` can switch on at run time.
    #[must_use]
    pub fn with_flags(self, flags: Flags) -> Self {
        Self { flags, ..self }
    }

    /// Waits as long as the latency flag says (nothing, unless a fault is switched on).
    pub(crate) async fn flagged_latency(&self) {
        let millis = u64::try_from(self.flags.int(LATENCY_FLAG, 0).await).unwrap_or(0);
        if millis > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(millis)).await;
        }
    }
}

/// Parses a client-supplied UUID, recording a violation under `field` when it is not one.
pub(crate) fn parse_id(
    violations: &mut shop_platform::validation::Violations,
    field: &str,
    raw: &str,
) -> Option<uuid::Uuid> {
    violations.check(
        field,
        uuid::Uuid::parse_str(raw).map_err(|_| "must be a UUID"),
    )
}
