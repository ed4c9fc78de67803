//! Row types and the queries several stores share: loading products locked, writing stock
//! back, and announcing `product.changed`.

use std::collections::HashMap;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use shop_events::Money;
use shop_events::product::{ProductChange, ProductChanged};
use shop_messaging::OutboxWriter;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::domain::{Product, Stock, StockBook, StockedProduct};

pub(super) const PRODUCT_COLUMNS: &str = "id, name, description, price_minor, currency, image_url, active, \
     available, reserved, sold, created_at, updated_at";

#[derive(FromRow)]
pub(super) struct ProductRow {
    id: Uuid,
    name: String,
    description: String,
    price_minor: i64,
    currency: String,
    image_url: String,
    active: bool,
    available: i64,
    reserved: i64,
    sold: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProductRow> for Product {
    type Error = anyhow::Error;

    fn try_from(row: ProductRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: row.id,
            name: row.name,
            description: row.description,
            price: Money::new(row.price_minor, &row.currency).context("stored price")?,
            image_url: row.image_url,
            active: row.active,
            stock: Stock::new(row.available, row.reserved, row.sold).context("stored stock")?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// Loads and locks `ids` in id order: the single lock order of every stock-moving
/// transaction, which is what keeps concurrent reservations from deadlocking.
pub(super) async fn lock_book(tx: &mut PgConnection, ids: &[Uuid]) -> anyhow::Result<StockBook> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let rows: Vec<ProductRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM product WHERE id = ANY($1) ORDER BY id FOR UPDATE"
    )))
    .bind(&sorted)
    .fetch_all(tx)
    .await
    .context("locking products")?;
    rows.into_iter()
        .map(|row| {
            let product = Product::try_from(row)?;
            Ok((
                product.id,
                StockedProduct {
                    name: product.name,
                    price: product.price,
                    active: product.active,
                    stock: product.stock,
                },
            ))
        })
        .collect()
}

/// Writes back the stock of every product in `after` that differs from `before`; returns the
/// ids written.
pub(super) async fn save_book(
    tx: &mut PgConnection,
    before: &StockBook,
    after: &StockBook,
) -> anyhow::Result<Vec<Uuid>> {
    let changed: HashMap<Uuid, Stock> = after
        .iter()
        .filter(|(id, product)| before.get(id).is_none_or(|b| b.stock != product.stock))
        .map(|(id, product)| (*id, product.stock))
        .collect();
    if changed.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = changed.keys().copied().collect();
    let available: Vec<i64> = ids.iter().map(|id| changed[id].available()).collect();
    let reserved: Vec<i64> = ids.iter().map(|id| changed[id].reserved()).collect();
    let sold: Vec<i64> = ids.iter().map(|id| changed[id].sold()).collect();
    sqlx::query(
        "UPDATE product p SET available = v.available, reserved = v.reserved, sold = v.sold, updated_at = now() \
         FROM UNNEST($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(id, available, reserved, sold) \
         WHERE p.id = v.id",
    )
    .bind(&ids)
    .bind(&available)
    .bind(&reserved)
    .bind(&sold)
    .execute(tx)
    .await
    .context("writing stock")?;
    Ok(ids)
}

/// The products among `touched` whose available count differs between `before` and `after`:
/// the part of stock a shopper sees (the gateway's cached product shows it), and so the part
/// that `product.changed` announces. Selling reserved stock moves it from reserved to sold and
/// leaves the available count where it was: nothing to announce.
pub(super) fn visible_changes(
    before: &StockBook,
    after: &StockBook,
    touched: &[Uuid],
) -> Vec<Uuid> {
    touched
        .iter()
        .copied()
        .filter(|id| {
            let available = |book: &StockBook| book.get(id).map(|p| p.stock.available());
            available(before) != available(after)
        })
        .collect()
}

/// Records `product.changed` for each product, in the caller's transaction.
pub(super) async fn announce(
    tx: &mut PgConnection,
    outbox: &OutboxWriter,
    ids: &[Uuid],
    change: ProductChange,
) -> anyhow::Result<()> {
    for id in ids {
        outbox
            .append(
                tx,
                ProductChanged {
                    product_id: *id,
                    change,
                    changed_at: Utc::now(),
                },
            )
            .await
            .context("writing product.changed to the outbox")?;
    }
    Ok(())
}
