//! Event consumers of the inventory service (inbound adapter): confirmed orders sell their
//! reservation, cancelled orders put their goods back. Each runs inside the consumer's inbox
//! transaction, so a redelivered event changes stock once.

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use shop_events::Envelope;
use shop_events::order::{OrderCancelled, OrderConfirmed};
use shop_messaging::{EventHandler, OutboxWriter};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::adapters::postgres::{commit_for_order, restock_for_order};
use crate::app::ports::Catalog;
use crate::domain::CommitOutcome;

/// Handles `order.confirmed` and `order.cancelled`.
#[derive(Clone)]
pub struct OrderEvents {
    pool: PgPool,
    outbox: OutboxWriter,
    catalog: Arc<dyn Catalog>,
}

impl std::fmt::Debug for OrderEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderEvents").finish_non_exhaustive()
    }
}

impl OrderEvents {
    pub fn new(pool: PgPool, outbox: OutboxWriter, catalog: Arc<dyn Catalog>) -> Self {
        Self {
            pool,
            outbox,
            catalog,
        }
    }

    /// Drops cached copies of an order's products once the stock change is committed.
    async fn invalidate_order(&self, order_id: Uuid) {
        let ids: Result<Vec<Uuid>, _> =
            sqlx::query_scalar("SELECT product_id FROM reservation_line WHERE order_id = $1")
                .bind(order_id)
                .fetch_all(&self.pool)
                .await;
        match ids {
            Ok(ids) => self.catalog.invalidate(&ids).await,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the order's products to drop them from the cache")
            }
        }
    }
}

#[async_trait]
impl EventHandler<OrderConfirmed> for OrderEvents {
    async fn handle(
        &self,
        event: &Envelope<OrderConfirmed>,
        tx: &mut PgConnection,
    ) -> anyhow::Result<()> {
        let outcome = commit_for_order(tx, &self.outbox, event.data.order_id)
            .await
            .context("committing the reservation")?;
        if outcome == CommitOutcome::CancelledMeanwhile {
            tracing::info!(order_id = %event.data.order_id, "confirmation arrived after the cancellation; stock stays restocked");
        }
        Ok(())
    }

    async fn after_commit(&self, event: &Envelope<OrderConfirmed>) {
        let ids: Vec<Uuid> = event.data.lines.iter().map(|l| l.product_id).collect();
        self.catalog.invalidate(&ids).await;
    }
}

#[async_trait]
impl EventHandler<OrderCancelled> for OrderEvents {
    async fn handle(
        &self,
        event: &Envelope<OrderCancelled>,
        tx: &mut PgConnection,
    ) -> anyhow::Result<()> {
        restock_for_order(tx, &self.outbox, event.data.order_id)
            .await
            .context("restocking the order")?;
        Ok(())
    }

    async fn after_commit(&self, event: &Envelope<OrderCancelled>) {
        self.invalidate_order(event.data.order_id).await;
    }
}
