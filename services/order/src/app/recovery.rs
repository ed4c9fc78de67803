//! The recovery worker: finishes sagas nobody drives any more (their request timed out, or
//! their process died). Each round claims a batch of stalled sagas in one statement (rows
//! another replica is claiming are skipped, so replicas share the backlog) and drives the
//! whole batch at once: a backlog after an outage is worked off in parallel, well inside the
//! saga deadline, not one saga per recovery budget.

use chrono::Utc;
use futures::StreamExt as _;
use shop_kernel::LeaseToken;

use super::Orders;
use super::ports::Lease;

impl Orders {
    /// At start: frees the leases this replica's previous process left on sagas in flight
    /// ([`OrderStore::take_back_leases`](super::ports::OrderStore::take_back_leases)), so the
    /// recovery worker's first round resumes them instead of waiting out the lease.
    pub async fn take_back_leases(&self) -> anyhow::Result<u64> {
        let freed = self.store.take_back_leases().await?;
        if freed > 0 {
            tracing::info!(
                sagas = freed,
                "took back the sagas this replica's previous process was driving"
            );
        }
        Ok(freed)
    }

    /// One round of the recovery worker: claims up to `recovery_concurrency` stalled sagas and
    /// drives them concurrently; returns how many it resumed.
    pub async fn recover_stalled(&self) -> anyhow::Result<usize> {
        // The backlog gauges: what the SagaBacklog alert reads. A saga older than its deadline
        // and still in flight means recovery is not keeping up.
        let in_flight = self.store.in_flight().await?;
        #[allow(clippy::cast_precision_loss)] // A gauge; exact beyond 2^52 orders does not matter.
        metrics::gauge!("orders_saga_backlog").set(in_flight.count as f64);
        metrics::gauge!("orders_saga_oldest_in_flight_seconds").set(in_flight.oldest_age_seconds);
        if in_flight.count == 0 {
            return Ok(0);
        }
        // Every saga of the batch is driven at once, so one lease covers the batch's budget.
        let lease = Lease {
            token: LeaseToken::new(),
            until: Utc::now() + chrono::Duration::from_std(self.policy.lease)?,
        };
        let batch = i64::try_from(self.policy.recovery_concurrency).unwrap_or(i64::MAX);
        let claimed = self.store.claim_stalled(batch, lease).await?;
        futures::stream::iter(&claimed)
            .for_each_concurrent(None, |&id| async move {
                metrics::counter!("orders_saga_recoveries_total").increment(1);
                tracing::info!(order_id = %id, "resuming a stalled saga");
                if let Err(err) = self
                    .drive(id, None, lease.token, self.policy.recovery_budget)
                    .await
                {
                    tracing::warn!(order_id = %id, error = %err, "resuming the saga failed");
                }
            })
            .await;
        Ok(claimed.len())
    }
}
