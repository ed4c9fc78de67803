//! Reservations in Postgres. Every operation is one transaction that locks the reservation
//! row first and then its products in id order, runs the domain rule on the locked values,
//! and writes back what changed, with `product.changed` in the outbox.
//!
//! [`commit_for_order`] and [`restock_for_order`] take the caller's transaction: the event
//! consumers run them inside the transaction that also records the message in the inbox.

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shop_events::Money;
use shop_events::product::ProductChange;
use shop_messaging::{Handled, InboxEntry, OutboxWriter};
use shop_platform::postgres::is_unique_violation;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::rows::{announce, lock_book, save_book, visible_changes};
use crate::app::ports::{ReservationStore, ReserveError, StockEffect};
use crate::domain::{
    CommitOutcome, Quantity, ReleaseReason, RequestedLine, Reservation, ReservationError,
    ReservationStatus, ReservedLine,
};

#[derive(Debug, Clone)]
pub struct PgReservationStore {
    pool: PgPool,
    outbox: OutboxWriter,
}

impl PgReservationStore {
    pub fn new(pool: PgPool, outbox: OutboxWriter) -> Self {
        Self { pool, outbox }
    }
}

#[derive(FromRow)]
struct ReservationRow {
    order_id: Uuid,
    status: String,
    release_reason: Option<String>,
    total_minor: i64,
    currency: String,
    expires_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct LineRow {
    product_id: Uuid,
    name: String,
    quantity: i64,
    unit_price_minor: i64,
    currency: String,
}

/// Loads and locks an order's reservation with its lines.
async fn lock_reservation(
    tx: &mut PgConnection,
    order_id: Uuid,
) -> anyhow::Result<Option<Reservation>> {
    let row: Option<ReservationRow> = sqlx::query_as(
        "SELECT order_id, status, release_reason, total_minor, currency, expires_at \
         FROM reservation WHERE order_id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await
    .context("locking the reservation")?;
    let Some(row) = row else {
        return Ok(None);
    };
    let lines: Vec<LineRow> = sqlx::query_as(
        "SELECT product_id, name, quantity, unit_price_minor, currency FROM reservation_line \
         WHERE order_id = $1 ORDER BY product_id",
    )
    .bind(order_id)
    .fetch_all(&mut *tx)
    .await
    .context("reading reservation lines")?;
    Ok(Some(Reservation {
        order_id: row.order_id,
        lines: lines
            .into_iter()
            .map(|l| {
                Ok(ReservedLine {
                    product_id: l.product_id,
                    name: l.name,
                    quantity: Quantity::new(l.quantity).context("stored quantity")?,
                    unit_price: Money::new(l.unit_price_minor, &l.currency)
                        .context("stored price")?,
                })
            })
            .collect::<anyhow::Result<_>>()?,
        total: Money::new(row.total_minor, &row.currency).context("stored total")?,
        status: ReservationStatus::parse(&row.status).context("stored status")?,
        release_reason: row.release_reason.as_deref().and_then(ReleaseReason::parse),
        expires_at: row.expires_at,
    }))
}

async fn save_status(tx: &mut PgConnection, reservation: &Reservation) -> anyhow::Result<()> {
    sqlx::query("UPDATE reservation SET status = $2, release_reason = $3, updated_at = now() WHERE order_id = $1")
        .bind(reservation.order_id)
        .bind(reservation.status.as_str())
        .bind(reservation.release_reason.map(ReleaseReason::as_str))
        .execute(tx)
        .await
        .context("writing the reservation status")?;
    Ok(())
}

async fn insert(tx: &mut PgConnection, reservation: &Reservation) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reservation (order_id, status, total_minor, currency, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(reservation.order_id)
    .bind(reservation.status.as_str())
    .bind(reservation.total.amount_minor)
    .bind(&reservation.total.currency)
    .bind(reservation.expires_at)
    .execute(&mut *tx)
    .await?;
    let products: Vec<Uuid> = reservation.lines.iter().map(|l| l.product_id).collect();
    let names: Vec<String> = reservation.lines.iter().map(|l| l.name.clone()).collect();
    let quantities: Vec<i64> = reservation.lines.iter().map(|l| l.quantity.get()).collect();
    let prices: Vec<i64> = reservation
        .lines
        .iter()
        .map(|l| l.unit_price.amount_minor)
        .collect();
    let currencies: Vec<String> = reservation
        .lines
        .iter()
        .map(|l| l.unit_price.currency.clone())
        .collect();
    sqlx::query(
        "INSERT INTO reservation_line (order_id, product_id, name, quantity, unit_price_minor, currency) \
         SELECT $1, * FROM UNNEST($2::uuid[], $3::text[], $4::bigint[], $5::bigint[], $6::text[])",
    )
    .bind(reservation.order_id)
    .bind(&products)
    .bind(&names)
    .bind(&quantities)
    .bind(&prices)
    .bind(&currencies)
    .execute(tx)
    .await?;
    Ok(())
}

/// Applies `rule` to an order's locked reservation and products, and persists the outcome.
/// Returns `None` when the order has no reservation, else the rule's result, the reservation
/// and the products whose stock changed.
async fn change_reservation<T>(
    tx: &mut PgConnection,
    outbox: &OutboxWriter,
    order_id: Uuid,
    rule: impl FnOnce(&mut Reservation, &mut crate::domain::StockBook) -> Result<T, ReservationError>,
) -> anyhow::Result<Option<(T, Reservation, Vec<Uuid>)>> {
    let Some(mut reservation) = lock_reservation(tx, order_id).await? else {
        return Ok(None);
    };
    let before_status = (reservation.status, reservation.release_reason);
    let before = lock_book(tx, &reservation.product_ids()).await?;
    let mut book = before.clone();
    let result = rule(&mut reservation, &mut book).map_err(anyhow::Error::new)?;
    let touched = save_book(tx, &before, &book).await?;
    if (reservation.status, reservation.release_reason) != before_status {
        save_status(tx, &reservation).await?;
    }
    // Every touched product leaves the stock caches; only a change of what shoppers see is
    // announced to the gateways.
    let visible = visible_changes(&before, &book, &touched);
    announce(tx, outbox, &visible, ProductChange::Stock).await?;
    Ok(Some((result, reservation, touched)))
}

impl PgReservationStore {
    /// Applies an order event's `rule` to its reservation, in one transaction with the event's
    /// inbox `entry`; `missing` is the outcome for an order that never reserved anything.
    async fn apply_event<T>(
        &self,
        order_id: Uuid,
        entry: InboxEntry,
        rule: impl FnOnce(
            &mut Reservation,
            &mut crate::domain::StockBook,
        ) -> Result<T, ReservationError>,
        missing: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<StockEffect<T>> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        if entry
            .record(&mut tx)
            .await
            .context("recording the event in the inbox")?
            == Handled::Duplicate
        {
            return Ok(StockEffect::Duplicate);
        }
        let effect = match change_reservation(&mut tx, &self.outbox, order_id, rule).await? {
            Some((outcome, _, touched)) => StockEffect::Applied { outcome, touched },
            None => StockEffect::Applied {
                outcome: missing()?,
                touched: Vec::new(),
            },
        };
        tx.commit().await.context("committing")?;
        Ok(effect)
    }
}

#[async_trait]
impl ReservationStore for PgReservationStore {
    #[tracing::instrument(name = "reservations.sell", skip_all, err(Debug))]
    async fn sell(
        &self,
        order_id: Uuid,
        entry: InboxEntry,
    ) -> anyhow::Result<StockEffect<CommitOutcome>> {
        self.apply_event(order_id, entry, Reservation::commit, || {
            Err(anyhow::anyhow!(
                "order {order_id} was confirmed but never reserved stock"
            ))
        })
        .await
    }

    #[tracing::instrument(name = "reservations.restock", skip_all, err(Debug))]
    async fn restock(
        &self,
        order_id: Uuid,
        entry: InboxEntry,
    ) -> anyhow::Result<StockEffect<bool>> {
        // An order that never reserved anything has nothing to restock.
        self.apply_event(order_id, entry, Reservation::restock, || Ok(false))
            .await
    }

    #[tracing::instrument(name = "reservations.reserve", skip_all, err(Debug))]
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: Vec<RequestedLine>,
        ttl: chrono::Duration,
    ) -> Result<Reservation, ReserveError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        if let Some(existing) = lock_reservation(&mut tx, order_id).await? {
            return if existing.matches(&lines) {
                Ok(existing)
            } else {
                Err(ReservationError::DifferentLines.into())
            };
        }
        let ids: Vec<Uuid> = lines.iter().map(|l| l.product_id).collect();
        let before = lock_book(&mut tx, &ids).await?;
        let mut book = before.clone();
        let reservation = Reservation::place(order_id, &lines, &mut book, ttl, Utc::now())?;
        let touched = save_book(&mut tx, &before, &book).await?;
        match insert(&mut tx, &reservation).await {
            Ok(()) => {}
            // The same order reserved concurrently and won: its reservation is the answer.
            Err(err) if is_unique_violation(&err, "reservation_pkey") => {
                drop(tx);
                let mut tx = self
                    .pool
                    .begin()
                    .await
                    .context("beginning the transaction")?;
                let existing = lock_reservation(&mut tx, order_id)
                    .await?
                    .context("the winning reservation vanished")?;
                return if existing.matches(&lines) {
                    Ok(existing)
                } else {
                    Err(ReservationError::DifferentLines.into())
                };
            }
            Err(err) => {
                return Err(anyhow::Error::new(err)
                    .context("inserting the reservation")
                    .into());
            }
        }
        let visible = visible_changes(&before, &book, &touched);
        announce(&mut tx, &self.outbox, &visible, ProductChange::Stock).await?;
        tx.commit().await.context("committing the reservation")?;
        Ok(reservation)
    }

    async fn release(
        &self,
        order_id: Uuid,
        reason: ReleaseReason,
    ) -> anyhow::Result<Option<Reservation>> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let changed = change_reservation(&mut tx, &self.outbox, order_id, |r, book| {
            r.release(book, reason)
        })
        .await?;
        tx.commit().await.context("committing the release")?;
        Ok(changed.map(|(_, reservation, _)| reservation))
    }

    async fn expire_due(&self, limit: i64) -> anyhow::Result<Vec<Uuid>> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let due: Vec<Uuid> = sqlx::query_scalar(
            "SELECT order_id FROM reservation WHERE status = 'RESERVED' AND expires_at < now() \
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .context("claiming due reservations")?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        // Lock every product of every due reservation at once, in id order, before changing
        // any: locking them reservation by reservation could deadlock with a concurrent
        // ReserveStock that locks in id order.
        let product_ids: Vec<Uuid> = sqlx::query_scalar(
            "SELECT DISTINCT product_id FROM reservation_line WHERE order_id = ANY($1)",
        )
        .bind(&due)
        .fetch_all(&mut *tx)
        .await
        .context("reading due lines")?;
        lock_book(&mut tx, &product_ids).await?;
        let mut touched = Vec::new();
        for order_id in due {
            if let Some((_, _, ids)) =
                change_reservation(&mut tx, &self.outbox, order_id, |r, book| {
                    r.release(book, ReleaseReason::Expired)
                })
                .await?
            {
                touched.extend(ids);
            }
        }
        tx.commit().await.context("committing the expiry")?;
        touched.sort_unstable();
        touched.dedup();
        Ok(touched)
    }
}
