//! The recovery worker: finishes sagas nobody drives any more (their request timed out, or
//! their process died). Safe with several replicas: taking an order's lease is conditional.

use chrono::Utc;
use shop_kernel::LeaseToken;

use super::Orders;
use super::ports::Lease;

/// Orders resumed per round.
const BATCH: i64 = 20;

impl Orders {
    /// One round of the recovery worker: takes over every stalled saga it can and drives it;
    /// returns how many.
    pub async fn recover_stalled(&self) -> anyhow::Result<usize> {
        // The backlog gauges: what the SagaBacklog alert reads. A saga older than its deadline
        // and still in flight means recovery is not keeping up.
        let in_flight = self.store.in_flight().await?;
        #[allow(clippy::cast_precision_loss)] // A gauge; exact beyond 2^52 orders does not matter.
        metrics::gauge!("orders_saga_backlog").set(in_flight.count as f64);
        metrics::gauge!("orders_saga_oldest_in_flight_seconds").set(in_flight.oldest_age_seconds);
        let mut resumed = 0;
        for id in self.store.stalled(BATCH).await? {
            let lease = Lease {
                token: LeaseToken::new(),
                until: Utc::now() + chrono::Duration::from_std(self.policy.lease)?,
            };
            if !self.store.take_lease(id, lease).await? {
                continue;
            }
            metrics::counter!("orders_saga_recoveries_total").increment(1);
            tracing::info!(order_id = %id, "resuming a stalled saga");
            if let Err(err) = self
                .drive(id, lease.token, self.policy.recovery_budget)
                .await
            {
                tracing::warn!(order_id = %id, error = %err, "resuming the saga failed");
            }
            resumed += 1;
        }
        Ok(resumed)
    }
}
