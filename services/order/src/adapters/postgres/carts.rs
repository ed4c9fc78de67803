//! Carts in Postgres: a row per customer, locked while lines change so the line bound holds
//! under concurrent adds, and a row per product in the cart.

use async_trait::async_trait;
use shop_events::Money;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::app::ports::{CartStore, CartWrite};
use crate::domain::{StoredCartLine, merged_quantity};

#[derive(Debug, Clone)]
pub struct PgCartStore {
    pool: PgPool,
}

impl PgCartStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(FromRow)]
struct LineRow {
    product_id: Uuid,
    quantity: i64,
    seen_price_minor: i64,
    seen_currency: String,
}

/// Creates the customer's cart row if need be and locks it for the transaction; returns how
/// many lines the cart holds.
async fn lock_cart(tx: &mut PgConnection, user_id: Uuid) -> anyhow::Result<usize> {
    sqlx::query(
        "INSERT INTO cart (user_id) VALUES ($1) \
         ON CONFLICT (user_id) DO UPDATE SET updated_at = now()",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM cart_line WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

async fn current_quantity(
    tx: &mut PgConnection,
    user_id: Uuid,
    product_id: Uuid,
) -> anyhow::Result<Option<i64>> {
    Ok(
        sqlx::query_scalar("SELECT quantity FROM cart_line WHERE user_id = $1 AND product_id = $2")
            .bind(user_id)
            .bind(product_id)
            .fetch_optional(&mut *tx)
            .await?,
    )
}

#[async_trait]
impl CartStore for PgCartStore {
    async fn lines(&self, user_id: Uuid) -> anyhow::Result<Vec<StoredCartLine>> {
        let rows: Vec<LineRow> = sqlx::query_as(
            "SELECT product_id, quantity, seen_price_minor, seen_currency FROM cart_line \
             WHERE user_id = $1 ORDER BY added_at, product_id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredCartLine {
                    product_id: row.product_id,
                    quantity: row.quantity,
                    seen_price: Money::new(row.seen_price_minor, &row.seen_currency)?,
                })
            })
            .collect()
    }

    async fn set(
        &self,
        user_id: Uuid,
        line: StoredCartLine,
        max_lines: usize,
    ) -> anyhow::Result<CartWrite> {
        let mut tx = self.pool.begin().await?;
        // The upsert takes the cart row's lock: concurrent adds to one cart go one at a time.
        let count = lock_cart(&mut tx, user_id).await?;
        let exists = current_quantity(&mut tx, user_id, line.product_id)
            .await?
            .is_some();
        if !exists && count >= max_lines {
            return Ok(CartWrite::Full);
        }
        sqlx::query(
            "INSERT INTO cart_line (user_id, product_id, quantity, seen_price_minor, seen_currency) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, product_id) DO UPDATE SET quantity = EXCLUDED.quantity, \
               seen_price_minor = EXCLUDED.seen_price_minor, seen_currency = EXCLUDED.seen_currency",
        )
        .bind(user_id)
        .bind(line.product_id)
        .bind(line.quantity)
        .bind(line.seen_price.amount_minor)
        .bind(&line.seen_price.currency)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CartWrite::Stored)
    }

    async fn remove(&self, user_id: Uuid, product_id: Uuid) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM cart_line WHERE user_id = $1 AND product_id = $2")
            .bind(user_id)
            .bind(product_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn clear(&self, user_id: Uuid) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM cart_line WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn merge(
        &self,
        user_id: Uuid,
        guest: Vec<StoredCartLine>,
        max_lines: usize,
    ) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let mut count = lock_cart(&mut tx, user_id).await?;
        for line in guest {
            let had = current_quantity(&mut tx, user_id, line.product_id).await?;
            match had {
                Some(had) => {
                    // The customer has not seen a new price by merging: the line keeps the one
                    // it had, so a moved price is still flagged.
                    sqlx::query(
                        "UPDATE cart_line SET quantity = $3 WHERE user_id = $1 AND product_id = $2",
                    )
                    .bind(user_id)
                    .bind(line.product_id)
                    .bind(merged_quantity(had, line.quantity))
                    .execute(&mut *tx)
                    .await?;
                }
                None if count < max_lines => {
                    sqlx::query(
                        "INSERT INTO cart_line \
                           (user_id, product_id, quantity, seen_price_minor, seen_currency) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(user_id)
                    .bind(line.product_id)
                    .bind(merged_quantity(0, line.quantity))
                    .bind(line.seen_price.amount_minor)
                    .bind(&line.seen_price.currency)
                    .execute(&mut *tx)
                    .await?;
                    count += 1;
                }
                None => {}
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
