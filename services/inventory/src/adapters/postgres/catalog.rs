//! The catalog in Postgres. Admin writes are idempotent by request id, and each records
//! `product.changed` in the outbox in its transaction.

use anyhow::Context as _;
use async_trait::async_trait;
use shop_events::product::ProductChange;
use shop_messaging::OutboxWriter;
use shop_platform::postgres::is_unique_violation;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use super::rows::{PRODUCT_COLUMNS, ProductRow, announce};
use crate::app::ports::{AdjustError, CatalogStore, ListQuery};
use crate::domain::{ListOrder, NewProduct, Product, ProductPatch, StockError};

#[derive(Debug, Clone)]
pub struct PgCatalogStore {
    pool: PgPool,
    outbox: OutboxWriter,
}

impl PgCatalogStore {
    pub fn new(pool: PgPool, outbox: OutboxWriter) -> Self {
        Self { pool, outbox }
    }
}

async fn product_in(tx: &mut PgConnection, id: Uuid) -> anyhow::Result<Option<Product>> {
    sqlx::query_as::<_, ProductRow>(AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM product WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(tx)
    .await
    .context("reading the product")?
    .map(Product::try_from)
    .transpose()
}

/// The product an earlier request with `request_id` touched, if there was one.
async fn replayed(tx: &mut PgConnection, request_id: Uuid) -> anyhow::Result<Option<Product>> {
    let product_id: Option<Uuid> =
        sqlx::query_scalar("SELECT product_id FROM product_request WHERE request_id = $1")
            .bind(request_id)
            .fetch_optional(&mut *tx)
            .await
            .context("looking up the request id")?;
    match product_id {
        Some(id) => product_in(tx, id).await,
        None => Ok(None),
    }
}

/// `%text%` for ILIKE, with the pattern characters in `text` taken literally.
fn like_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[async_trait]
impl CatalogStore for PgCatalogStore {
    async fn list(&self, query: &ListQuery) -> anyhow::Result<Vec<Product>> {
        // The keyset condition and the sort follow the order; each has its index (migrations
        // 0001 and 0003), and every order ends with (lower(name), id) so that it is total.
        let (after, order_by) = match query.order {
            ListOrder::Name => ("(lower(name), id) > ($3, $4)", "lower(name), id"),
            ListOrder::PriceAscending => (
                "(price_minor, lower(name), id) > ($5, $3, $4)",
                "price_minor, lower(name), id",
            ),
            ListOrder::PriceDescending => (
                "(price_minor < $5 OR (price_minor = $5 AND (lower(name), id) > ($3, $4)))",
                "price_minor DESC, lower(name), id",
            ),
        };
        let (after_name, after_id, after_price) = match &query.after {
            Some(token) => (Some(token.name.clone()), Some(token.id), token.price_minor),
            None => (None, None, None),
        };
        let rows: Vec<ProductRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM product \
             WHERE ($1 OR active) \
               AND ($2::text IS NULL OR name ILIKE $2 OR description ILIKE $2) \
               AND ($3::text IS NULL OR {after}) \
             ORDER BY {order_by} LIMIT $6"
        )))
        .bind(query.include_inactive)
        .bind(query.text.as_deref().map(like_pattern))
        .bind(after_name)
        .bind(after_id)
        .bind(after_price)
        .bind(query.limit)
        .fetch_all(&self.pool)
        .await
        .context("listing products")?;
        rows.into_iter().map(Product::try_from).collect()
    }

    async fn get(&self, id: Uuid) -> anyhow::Result<Option<Product>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        product_in(&mut conn, id).await
    }

    async fn batch_get(&self, ids: &[Uuid]) -> anyhow::Result<Vec<Product>> {
        let rows: Vec<ProductRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM product WHERE id = ANY($1)"
        )))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .context("reading products")?;
        rows.into_iter().map(Product::try_from).collect()
    }

    #[tracing::instrument(name = "catalog.create", skip_all, err)]
    async fn create(&self, request_id: Uuid, product: NewProduct) -> anyhow::Result<Product> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        if let Some(existing) = replayed(&mut tx, request_id).await? {
            return Ok(existing);
        }
        let id = Uuid::now_v7();
        let row: ProductRow = sqlx::query_as(AssertSqlSafe(format!(
            "INSERT INTO product (id, name, description, price_minor, currency, image_url, available, received) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {PRODUCT_COLUMNS}"
        )))
        .bind(id)
        .bind(&product.name)
        .bind(&product.description)
        .bind(product.price.amount_minor)
        .bind(&product.price.currency)
        .bind(&product.image_url)
        .bind(product.initial_stock)
        .fetch_one(&mut *tx)
        .await
        .context("inserting the product")?;
        let recorded = sqlx::query(
            "INSERT INTO product_request (request_id, product_id, kind) VALUES ($1, $2, 'create')",
        )
        .bind(request_id)
        .bind(id)
        .execute(&mut *tx)
        .await;
        match recorded {
            Ok(_) => {}
            // A concurrent retry of the same request won the race: return what it created.
            Err(err) if is_unique_violation(&err, "product_request_pkey") => {
                drop(tx);
                let mut conn = self
                    .pool
                    .acquire()
                    .await
                    .context("acquiring a connection")?;
                return replayed(&mut conn, request_id)
                    .await?
                    .context("the winning request's product vanished");
            }
            Err(err) => return Err(anyhow::Error::new(err).context("recording the request")),
        }
        announce(&mut tx, &self.outbox, &[id], ProductChange::Created).await?;
        tx.commit().await.context("committing the product")?;
        Product::try_from(row)
    }

    async fn update(&self, id: Uuid, patch: ProductPatch) -> anyhow::Result<Option<Product>> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let row: Option<ProductRow> = sqlx::query_as(AssertSqlSafe(format!(
            "UPDATE product SET name = COALESCE($2, name), description = COALESCE($3, description), \
                 price_minor = COALESCE($4, price_minor), currency = COALESCE($5, currency), \
                 image_url = COALESCE($6, image_url), active = COALESCE($7, active), updated_at = now() \
             WHERE id = $1 RETURNING {PRODUCT_COLUMNS}"
        )))
        .bind(id)
        .bind(patch.name)
        .bind(patch.description)
        .bind(patch.price.as_ref().map(|p| p.amount_minor))
        .bind(patch.price.as_ref().map(|p| p.currency.clone()))
        .bind(patch.image_url)
        .bind(patch.active)
        .fetch_optional(&mut *tx)
        .await
        .context("updating the product")?;
        let Some(row) = row else {
            return Ok(None);
        };
        announce(&mut tx, &self.outbox, &[id], ProductChange::Updated).await?;
        tx.commit().await.context("committing the update")?;
        Product::try_from(row).map(Some)
    }

    #[tracing::instrument(name = "catalog.adjust_stock", skip_all, err(Debug))]
    async fn adjust_stock(
        &self,
        request_id: Uuid,
        id: Uuid,
        delta: i64,
    ) -> Result<Product, AdjustError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        if let Some(existing) = replayed(&mut tx, request_id).await? {
            return Ok(existing);
        }
        let locked: Option<ProductRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM product WHERE id = $1 FOR UPDATE"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .context("locking the product")?;
        let mut product = Product::try_from(locked.ok_or(AdjustError::NotFound)?)?;
        product.stock.adjust(delta).map_err(|err| match err {
            StockError::Insufficient {
                available,
                requested,
            } => AdjustError::Insufficient {
                available,
                requested,
            },
            other => AdjustError::Unexpected(anyhow::anyhow!(other)),
        })?;
        let row: ProductRow = sqlx::query_as(AssertSqlSafe(format!(
            "UPDATE product SET available = $2, received = received + $3, updated_at = now() \
             WHERE id = $1 RETURNING {PRODUCT_COLUMNS}"
        )))
        .bind(id)
        .bind(product.stock.available())
        .bind(delta)
        .fetch_one(&mut *tx)
        .await
        .context("writing the adjustment")?;
        let recorded = sqlx::query(
            "INSERT INTO product_request (request_id, product_id, kind, delta) VALUES ($1, $2, 'adjust', $3)",
        )
        .bind(request_id)
        .bind(id)
        .bind(delta)
        .execute(&mut *tx)
        .await;
        match recorded {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err, "product_request_pkey") => {
                drop(tx);
                let mut conn = self
                    .pool
                    .acquire()
                    .await
                    .context("acquiring a connection")?;
                return replayed(&mut conn, request_id)
                    .await?
                    .ok_or(AdjustError::NotFound);
            }
            Err(err) => {
                return Err(AdjustError::Unexpected(
                    anyhow::Error::new(err).context("recording the request"),
                ));
            }
        }
        announce(&mut tx, &self.outbox, &[id], ProductChange::Stock).await?;
        tx.commit().await.context("committing the adjustment")?;
        Ok(Product::try_from(row)?)
    }
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn query_text_is_matched_literally() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
