//! ReleaseReservation (saga compensation): give an order's held stock back. Idempotent.

use shop_platform::validation::Violations;

use super::{Inventory, InventoryError, parse_id};
use crate::domain::{ReleaseReason, Reservation};

impl Inventory {
    /// `None` when the order never reserved anything (nothing to do, not an error).
    #[tracing::instrument(name = "inventory.release_reservation", skip_all, err(Debug))]
    pub async fn release_reservation(
        &self,
        order_id: &str,
    ) -> Result<Option<Reservation>, InventoryError> {
        self.flagged_latency().await;
        let mut violations = Violations::new();
        let Some(order_id) = parse_id(&mut violations, "order_id", order_id) else {
            return Err(violations.into());
        };
        let released = self
            .reservations
            .release(order_id, ReleaseReason::Saga)
            .await?;
        if let Some(reservation) = &released {
            self.catalog.invalidate(&reservation.product_ids()).await;
        }
        Ok(released)
    }
}
