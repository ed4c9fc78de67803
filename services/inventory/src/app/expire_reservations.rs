//! The expiry worker: reservations whose saga never came back are released after their TTL.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Inventory;

/// Reservations released per round.
const BATCH: i64 = 100;

impl Inventory {
    /// Releases due reservations every `interval` until stopped. Safe with several replicas:
    /// each round claims rows with `FOR UPDATE SKIP LOCKED`.
    pub async fn run_expiry(
        self,
        interval: Duration,
        stop: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => return Ok(()),
            }
            match self.expire_due().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(released = n, "expired reservations released"),
                Err(err) => {
                    tracing::warn!(error = format!("{err:#}"), "expiring reservations failed")
                }
            }
        }
    }

    /// One round: releases what is due; returns how many products it touched.
    pub async fn expire_due(&self) -> anyhow::Result<usize> {
        let touched = self.reservations.expire_due(BATCH).await?;
        if !touched.is_empty() {
            metrics::counter!("inventory_reservations_expired_total").increment(1);
            self.catalog.invalidate(&touched).await;
        }
        Ok(touched.len())
    }
}
