//! The expiry worker: reservations whose saga never came back are released after their TTL.

use super::Inventory;

/// Reservations released per round.
const BATCH: i64 = 100;

impl Inventory {
    /// One round of the expiry worker: releases what is due; returns how many products it
    /// touched. Safe with several replicas: each round claims rows with `FOR UPDATE SKIP
    /// LOCKED`.
    pub async fn expire_due(&self) -> anyhow::Result<usize> {
        let touched = self.reservations.expire_due(BATCH).await?;
        if !touched.is_empty() {
            metrics::counter!("inventory_reservations_expired_total").increment(1);
            tracing::info!(products = touched.len(), "expired reservations released");
            self.catalog.invalidate(&touched).await;
        }
        Ok(touched.len())
    }
}
