//! Reactions to the order service's events: a confirmed order's reservation becomes a sale, a
//! cancelled order's goods go back on the shelf. Each applies once however often the event is
//! delivered (the store records it in the inbox with the stock change), and drops the cached
//! copies of the products it changed once the change is committed.

use shop_messaging::{Handled, InboxEntry};
use uuid::Uuid;

use super::Inventory;
use super::ports::StockEffect;
use crate::domain::CommitOutcome;

impl Inventory {
    /// `order.confirmed`.
    pub async fn sell_confirmed_order(
        &self,
        order_id: Uuid,
        entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        let effect = self.reservations.sell(order_id, entry).await?;
        if let StockEffect::Applied {
            outcome: CommitOutcome::CancelledMeanwhile,
            ..
        } = &effect
        {
            tracing::info!(%order_id, "confirmation arrived after the cancellation; stock stays restocked");
        }
        Ok(self.after(effect).await)
    }

    /// `order.cancelled`.
    pub async fn restock_cancelled_order(
        &self,
        order_id: Uuid,
        entry: InboxEntry,
    ) -> anyhow::Result<Handled> {
        let effect = self.reservations.restock(order_id, entry).await?;
        Ok(self.after(effect).await)
    }

    /// Drops the changed products from the cache; a committed change must not be hidden by a
    /// stale copy.
    async fn after<T>(&self, effect: StockEffect<T>) -> Handled {
        match effect {
            StockEffect::Duplicate => Handled::Duplicate,
            StockEffect::Applied { touched, .. } => {
                if !touched.is_empty() {
                    self.catalog.invalidate(&touched).await;
                }
                Handled::Applied
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use shop_messaging::{Handled, InboxEntry};
    use uuid::Uuid;

    use crate::app::Inventory;
    use crate::app::ports::{MockCatalogStore, MockReservationStore, StockEffect};
    use crate::domain::CommitOutcome;

    #[tokio::test]
    async fn a_sale_drops_the_changed_products_from_the_cache_and_a_duplicate_drops_nothing() {
        let product = Uuid::now_v7();
        let (mut catalog, mut reservations) =
            (MockCatalogStore::new(), MockReservationStore::new());
        let mut effects = vec![
            StockEffect::Duplicate,
            StockEffect::Applied {
                outcome: CommitOutcome::Committed,
                touched: vec![product],
            },
        ];
        reservations
            .expect_sell()
            .times(2)
            .returning(move |_, _| Ok(effects.pop().unwrap()));
        catalog
            .expect_invalidate()
            .withf(move |ids| ids == [product])
            .times(1)
            .returning(|_| ());
        let app = Inventory::new(
            Arc::new(catalog),
            Arc::new(reservations),
            chrono::Duration::minutes(15),
        );
        let entry = || InboxEntry::new("test", Uuid::now_v7());
        let order = Uuid::now_v7();
        assert_eq!(
            app.sell_confirmed_order(order, entry()).await.unwrap(),
            Handled::Applied
        );
        assert_eq!(
            app.sell_confirmed_order(order, entry()).await.unwrap(),
            Handled::Duplicate
        );
    }
}
