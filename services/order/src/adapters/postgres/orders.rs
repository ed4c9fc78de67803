//! Orders in Postgres: the order row is the saga's log, its lines and timeline hang off it,
//! and every transition is one conditional update written together with its timeline entries
//! and its outbox event.

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shop_events::Money;
use shop_kernel::LeaseToken;
use shop_messaging::{Handled, InboxEntry, OutboxWriter};
use sqlx::{AssertSqlSafe, FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::app::ports::{
    Appended, CardToCharge, Change, Created, InFlight, Lease, NewOrder, OrderFilter, OrderStore,
    OutgoingEvent,
};
use crate::domain::{
    Country, LineItem, Order, OrderState, OrderStatus, PricedLine, RejectReason, SHOP_CURRENCY,
    Shipping, ShippingAddress, ShippingMethod, TimelineEntry, TimelineEvent, Tracking,
};

const ORDER_COLUMNS: &str = "id, user_id, status, reason, compensation, total_minor, currency, saga_deadline, \
     created_at, updated_at, subtotal_minor, shipping_minor, shipping_method, ship_name, ship_line1, \
     ship_line2, ship_city, ship_postal_code, ship_country, carrier, tracking_number";

#[derive(Debug, Clone)]
pub struct PgOrderStore {
    pool: PgPool,
    outbox: OutboxWriter,
    /// This replica's stable name, written beside every lease it takes.
    instance: Option<Arc<str>>,
}

impl PgOrderStore {
    pub fn new(pool: PgPool, outbox: OutboxWriter) -> Self {
        Self {
            pool,
            outbox,
            instance: None,
        }
    }

    /// The same, for the replica named `instance` (stable across its restarts): its leases
    /// carry the name, and [`OrderStore::take_back_leases`] frees those a previous process of
    /// the same replica left behind.
    #[must_use]
    pub fn for_instance(self, instance: Option<&str>) -> Self {
        Self {
            instance: instance.map(Arc::from),
            ..self
        }
    }
}

#[derive(FromRow)]
struct OrderRow {
    id: Uuid,
    user_id: Uuid,
    status: String,
    reason: Option<String>,
    compensation: Option<String>,
    total_minor: Option<i64>,
    currency: Option<String>,
    saga_deadline: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    subtotal_minor: Option<i64>,
    shipping_minor: Option<i64>,
    shipping_method: Option<String>,
    ship_name: Option<String>,
    ship_line1: Option<String>,
    ship_line2: Option<String>,
    ship_city: Option<String>,
    ship_postal_code: Option<String>,
    ship_country: Option<String>,
    carrier: Option<String>,
    tracking_number: Option<String>,
}

/// The stored shipping of an order, when it has one.
fn shipping_from(row: &OrderRow) -> anyhow::Result<Option<Shipping>> {
    let (Some(method), Some(price), Some(country)) =
        (&row.shipping_method, row.shipping_minor, &row.ship_country)
    else {
        return Ok(None);
    };
    let text = |field: &Option<String>| field.clone().unwrap_or_default();
    Ok(Some(Shipping {
        address: ShippingAddress {
            name: text(&row.ship_name),
            line1: text(&row.ship_line1),
            line2: text(&row.ship_line2),
            city: text(&row.ship_city),
            postal_code: text(&row.ship_postal_code),
            country: Country::parse(country)
                .map_err(|err| anyhow::anyhow!("stored country {country:?}: {err}"))?,
        },
        method: ShippingMethod::parse(method).context("stored shipping method")?,
        price: Money::new(price, SHOP_CURRENCY).context("stored shipping price")?,
    }))
}

#[derive(FromRow)]
struct LineRow {
    order_id: Uuid,
    product_id: Uuid,
    quantity: i64,
    name: Option<String>,
    unit_price_minor: Option<i64>,
    currency: Option<String>,
}

fn order_from(row: OrderRow, lines: Vec<LineRow>) -> anyhow::Result<Order> {
    let shipping = shipping_from(&row)?;
    let tracking = match (&row.carrier, &row.tracking_number) {
        (Some(carrier), Some(number)) => Some(Tracking {
            carrier: carrier.clone(),
            number: number.clone(),
        }),
        _ => None,
    };
    let money = |amount: Option<i64>, what: &str| -> anyhow::Result<Option<Money>> {
        match (amount, &row.currency) {
            (Some(amount), Some(currency)) => Ok(Some(
                Money::new(amount, currency).with_context(|| format!("stored {what}"))?,
            )),
            _ => Ok(None),
        }
    };
    let total = money(row.total_minor, "total")?;
    let subtotal = money(row.subtotal_minor, "subtotal")?;
    Ok(Order::restore(OrderState {
        id: row.id,
        user_id: row.user_id,
        status: OrderStatus::parse(&row.status).context("stored status")?,
        reason: row.reason,
        compensation: row.compensation.as_deref().and_then(RejectReason::parse),
        lines: lines
            .into_iter()
            .map(|l| {
                let priced = match (l.name, l.unit_price_minor, l.currency) {
                    (Some(name), Some(amount), Some(currency)) => Some(PricedLine {
                        name,
                        unit_price: Money::new(amount, &currency).context("stored price")?,
                    }),
                    _ => None,
                };
                Ok(LineItem {
                    product_id: l.product_id,
                    quantity: l.quantity,
                    priced,
                })
            })
            .collect::<anyhow::Result<_>>()?,
        shipping,
        subtotal,
        total,
        tracking,
        saga_deadline: row.saga_deadline,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }))
}

/// Loads orders with their lines in two queries, not one per order.
async fn orders_with_lines(
    conn: &mut PgConnection,
    rows: Vec<OrderRow>,
) -> anyhow::Result<Vec<Order>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut lines: Vec<LineRow> = sqlx::query_as(
        "SELECT order_id, product_id, quantity, name, unit_price_minor, currency FROM order_line \
         WHERE order_id = ANY($1) ORDER BY product_id",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await
    .context("reading order lines")?;
    rows.into_iter()
        .map(|row| {
            let (mine, rest): (Vec<LineRow>, Vec<LineRow>) =
                lines.drain(..).partition(|l| l.order_id == row.id);
            lines = rest;
            order_from(row, mine)
        })
        .collect()
}

async fn insert_timeline(
    conn: &mut PgConnection,
    order_id: Uuid,
    entries: &[TimelineEntry],
) -> anyhow::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let at: Vec<DateTime<Utc>> = entries.iter().map(|e| e.at).collect();
    let event: Vec<&str> = entries.iter().map(|e| e.event.as_str()).collect();
    let detail: Vec<String> = entries.iter().map(|e| e.detail.clone()).collect();
    sqlx::query(
        "INSERT INTO order_event (order_id, at, event, detail) \
         SELECT $1, * FROM UNNEST($2::timestamptz[], $3::text[], $4::text[])",
    )
    .bind(order_id)
    .bind(&at)
    .bind(&event)
    .bind(&detail)
    .execute(conn)
    .await
    .context("appending to the timeline")?;
    Ok(())
}

/// Appends one entry to an order's timeline, if the order exists (used by event consumers,
/// inside their inbox transaction).
async fn append_timeline(
    conn: &mut PgConnection,
    order_id: Uuid,
    entry: &TimelineEntry,
) -> anyhow::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO order_event (order_id, at, event, detail) \
         SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM orders WHERE id = $1)",
    )
    .bind(order_id)
    .bind(entry.at)
    .bind(entry.event.as_str())
    .bind(&entry.detail)
    .execute(conn)
    .await
    .context("appending to the timeline")?;
    Ok(inserted.rows_affected() == 1)
}

#[async_trait]
impl OrderStore for PgOrderStore {
    #[tracing::instrument(name = "orders.create", skip_all, err)]
    async fn create(&self, new: NewOrder) -> anyhow::Result<Created> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let order = &new.order;
        let inserted: Option<Uuid> = sqlx::query_scalar(
            "INSERT INTO orders (id, user_id, idempotency_key, request_fingerprint, status, card_token, saga_deadline, \
                 lease_token, lease_until, created_at, updated_at, from_cart, shipping_method, shipping_minor, \
                 ship_name, ship_line1, ship_line2, ship_city, ship_postal_code, ship_country, subtotal_minor, currency, \
                 lease_holder) \
             VALUES ($1, $2, $3, $4, 'PENDING', $5, $6, $7, $8, $9, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
             ON CONFLICT ON CONSTRAINT orders_idempotency_key DO NOTHING RETURNING id",
        )
        .bind(order.id())
        .bind(order.user_id())
        .bind(&new.idempotency_key)
        .bind(&new.fingerprint)
        .bind(&new.card_token)
        .bind(order.saga_deadline())
        .bind(new.lease.token.as_uuid())
        .bind(new.lease.until)
        .bind(order.created_at())
        .bind(new.from_cart)
        .bind(order.shipping().map(|s| s.method.as_str()))
        .bind(order.shipping().map(|s| s.price.amount_minor))
        .bind(order.shipping().map(|s| s.address.name.clone()))
        .bind(order.shipping().map(|s| s.address.line1.clone()))
        .bind(order.shipping().map(|s| s.address.line2.clone()))
        .bind(order.shipping().map(|s| s.address.city.clone()))
        .bind(order.shipping().map(|s| s.address.postal_code.clone()))
        .bind(order.shipping().map(|s| s.address.country.as_str().to_owned()))
        // The subtotal checkout quoted, until inventory prices the lines.
        .bind(order.subtotal().map(|m| m.amount_minor))
        .bind(order.subtotal().map(|m| m.currency.clone()))
        .bind(self.instance.as_deref())
        .fetch_optional(&mut *tx)
        .await
        .context("inserting the order")?;

        if inserted.is_none() {
            drop(tx);
            let (id, fingerprint): (Uuid, Vec<u8>) = sqlx::query_as(
                "SELECT id, request_fingerprint FROM orders WHERE user_id = $1 AND idempotency_key = $2",
            )
            .bind(order.user_id())
            .bind(&new.idempotency_key)
            .fetch_one(&self.pool)
            .await
            .context("reading the order placed with this key")?;
            let existing = self
                .get(id)
                .await?
                .context("the order placed with this key vanished")?;
            return Ok(Created::Existing {
                order: existing,
                fingerprint,
            });
        }

        let products: Vec<Uuid> = order.lines().iter().map(|l| l.product_id).collect();
        let quantities: Vec<i64> = order.lines().iter().map(|l| l.quantity).collect();
        sqlx::query(
            "INSERT INTO order_line (order_id, product_id, quantity) SELECT $1, * FROM UNNEST($2::uuid[], $3::bigint[])",
        )
        .bind(order.id())
        .bind(&products)
        .bind(&quantities)
        .execute(&mut *tx)
        .await
        .context("inserting the order lines")?;
        insert_timeline(&mut tx, order.id(), std::slice::from_ref(&new.placed)).await?;
        tx.commit().await.context("committing the order")?;
        Ok(Created::New(new.order))
    }

    async fn find_by_key(
        &self,
        user_id: Uuid,
        key: &str,
    ) -> anyhow::Result<Option<(Order, Vec<u8>)>> {
        let found: Option<(Uuid, Vec<u8>)> = sqlx::query_as(
            "SELECT id, request_fingerprint FROM orders WHERE user_id = $1 AND idempotency_key = $2",
        )
        .bind(user_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .context("reading the order placed with this key")?;
        let Some((id, fingerprint)) = found else {
            return Ok(None);
        };
        let order = self
            .get(id)
            .await?
            .context("the order placed with this key vanished")?;
        Ok(Some((order, fingerprint)))
    }

    async fn get(&self, id: Uuid) -> anyhow::Result<Option<Order>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let row: Option<OrderRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .context("reading the order")?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(orders_with_lines(&mut conn, vec![row]).await?.pop())
    }

    async fn timeline(&self, id: Uuid) -> anyhow::Result<Vec<TimelineEntry>> {
        let rows: Vec<(DateTime<Utc>, String, String)> = sqlx::query_as(
            "SELECT at, event, detail FROM order_event WHERE order_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .context("reading the timeline")?;
        rows.into_iter()
            .map(|(at, event, detail)| {
                let event = TimelineEvent::parse(&event)
                    .with_context(|| format!("stored timeline event {event:?}"))?;
                Ok(TimelineEntry { at, event, detail })
            })
            .collect()
    }

    async fn card_to_charge(
        &self,
        id: Uuid,
        status: OrderStatus,
        compensation: Option<RejectReason>,
    ) -> anyhow::Result<CardToCharge> {
        let token: Option<Option<String>> = sqlx::query_scalar(
            "SELECT card_token FROM orders \
             WHERE id = $1 AND status = $2 AND compensation IS NOT DISTINCT FROM $3",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(compensation.map(RejectReason::as_str))
        .fetch_optional(&self.pool)
        .await
        .context("reading the card token")?;
        Ok(match token {
            None => CardToCharge::MovedOn,
            Some(None) => CardToCharge::Missing,
            Some(Some(card)) => CardToCharge::Card(card),
        })
    }

    #[tracing::instrument(name = "orders.apply", skip_all, fields(order_id = %change.order.id(), to = change.order.status().as_str()), err)]
    async fn apply(&self, change: Change) -> anyhow::Result<bool> {
        let order = &change.order;
        let ends_saga = order.status().is_terminal();
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let updated = sqlx::query(
            "UPDATE orders SET status = $2, reason = $3, compensation = $4, total_minor = $5, currency = $6, \
                 subtotal_minor = $11, carrier = $12, tracking_number = $13, updated_at = now(), \
                 card_token = CASE WHEN $7 THEN NULL ELSE card_token END, \
                 lease_token = CASE WHEN $7 THEN NULL ELSE lease_token END, \
                 lease_until = CASE WHEN $7 THEN NULL ELSE lease_until END \
             WHERE id = $1 AND status = $8 AND compensation IS NOT DISTINCT FROM $9 \
               AND ($10::uuid IS NULL OR lease_token = $10)",
        )
        .bind(order.id())
        .bind(order.status().as_str())
        .bind(order.reason())
        .bind(order.compensation().map(RejectReason::as_str))
        .bind(order.total().as_ref().map(|t| t.amount_minor))
        .bind(order.total().as_ref().map(|t| t.currency.clone()))
        .bind(ends_saga)
        .bind(change.from.as_str())
        .bind(change.from_compensation.map(RejectReason::as_str))
        .bind(change.lease.map(|token| token.as_uuid()))
        .bind(order.subtotal().map(|s| s.amount_minor))
        .bind(order.tracking().map(|t| t.carrier.clone()))
        .bind(order.tracking().map(|t| t.number.clone()))
        .execute(&mut *tx)
        .await
        .context("updating the order")?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        if order.status() == OrderStatus::Confirmed && change.from != OrderStatus::Confirmed {
            // An order from the cart empties it of what it bought, in the confirming
            // transaction: never before (a declined card keeps the cart), never twice.
            let products: Vec<Uuid> = order.lines().iter().map(|l| l.product_id).collect();
            sqlx::query(
                "DELETE FROM cart_line WHERE user_id = $1 AND product_id = ANY($2) \
                   AND (SELECT from_cart FROM orders WHERE id = $3)",
            )
            .bind(order.user_id())
            .bind(&products)
            .bind(order.id())
            .execute(&mut *tx)
            .await
            .context("emptying the cart of the confirmed order")?;
        }

        let priced: Vec<(&LineItem, &PricedLine)> = order
            .lines()
            .iter()
            .filter_map(|l| l.priced.as_ref().map(|p| (l, p)))
            .collect();
        if change.from == OrderStatus::Pending && !priced.is_empty() {
            let products: Vec<Uuid> = priced.iter().map(|(l, _)| l.product_id).collect();
            let names: Vec<String> = priced.iter().map(|(_, p)| p.name.clone()).collect();
            let prices: Vec<i64> = priced
                .iter()
                .map(|(_, p)| p.unit_price.amount_minor)
                .collect();
            let currencies: Vec<String> = priced
                .iter()
                .map(|(_, p)| p.unit_price.currency.clone())
                .collect();
            sqlx::query(
                "UPDATE order_line l SET name = v.name, unit_price_minor = v.price, currency = v.currency \
                 FROM UNNEST($2::uuid[], $3::text[], $4::bigint[], $5::text[]) AS v(product_id, name, price, currency) \
                 WHERE l.order_id = $1 AND l.product_id = v.product_id",
            )
            .bind(order.id())
            .bind(&products)
            .bind(&names)
            .bind(&prices)
            .bind(&currencies)
            .execute(&mut *tx)
            .await
            .context("pricing the order lines")?;
        }
        insert_timeline(&mut tx, order.id(), &change.timeline).await?;
        match change.event {
            Some(OutgoingEvent::Confirmed(event)) => {
                self.outbox
                    .append(&mut tx, *event)
                    .await
                    .context("writing order.confirmed to the outbox")?;
            }
            Some(OutgoingEvent::Cancelled(event)) => {
                self.outbox
                    .append(&mut tx, event)
                    .await
                    .context("writing order.cancelled to the outbox")?;
            }
            Some(OutgoingEvent::Shipped(event)) => {
                self.outbox
                    .append(&mut tx, event)
                    .await
                    .context("writing order.shipped to the outbox")?;
            }
            Some(OutgoingEvent::Delivered(event)) => {
                self.outbox
                    .append(&mut tx, event)
                    .await
                    .context("writing order.delivered to the outbox")?;
            }
            None => {}
        }
        tx.commit().await.context("committing the transition")?;
        Ok(true)
    }

    async fn release_lease(&self, id: Uuid, token: LeaseToken) -> anyhow::Result<()> {
        sqlx::query("UPDATE orders SET lease_token = NULL, lease_until = NULL WHERE id = $1 AND lease_token = $2")
            .bind(id)
            .bind(token.as_uuid())
            .execute(&self.pool)
            .await
            .context("releasing the lease")?;
        Ok(())
    }

    async fn claim_stalled(&self, limit: i64, lease: Lease) -> anyhow::Result<Vec<Uuid>> {
        sqlx::query_scalar(
            "UPDATE orders SET lease_token = $2, lease_until = $3, lease_holder = $4 \
             WHERE id IN ( \
                 SELECT id FROM orders WHERE status IN ('PENDING', 'RESERVED') \
                   AND (lease_until IS NULL OR lease_until < now()) \
                 ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
             RETURNING id",
        )
        .bind(limit)
        .bind(lease.token.as_uuid())
        .bind(lease.until)
        .bind(self.instance.as_deref())
        .fetch_all(&self.pool)
        .await
        .context("claiming stalled orders")
    }

    async fn take_back_leases(&self) -> anyhow::Result<u64> {
        let Some(instance) = self.instance.as_deref() else {
            return Ok(0);
        };
        let freed = sqlx::query(
            "UPDATE orders SET lease_token = NULL, lease_until = NULL \
             WHERE status IN ('PENDING', 'RESERVED') AND lease_token IS NOT NULL \
               AND lease_holder = $1",
        )
        .bind(instance)
        .execute(&self.pool)
        .await
        .context("taking back the leases of this replica's previous process")?;
        Ok(freed.rows_affected())
    }

    async fn in_flight(&self) -> anyhow::Result<InFlight> {
        let (count, oldest): (i64, Option<f64>) = sqlx::query_as(
            "SELECT count(*), extract(epoch FROM now() - min(created_at))::float8 \
             FROM orders WHERE status IN ('PENDING', 'RESERVED')",
        )
        .fetch_one(&self.pool)
        .await
        .context("measuring the sagas in flight")?;
        Ok(InFlight {
            count,
            oldest_age_seconds: oldest.unwrap_or(0.0),
        })
    }

    async fn list(
        &self,
        filter: &OrderFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> anyhow::Result<Vec<Order>> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        let (after_at, after_id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
        let rows: Vec<OrderRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {ORDER_COLUMNS} FROM orders \
             WHERE ($1::uuid IS NULL OR user_id = $1) \
               AND ($2::text IS NULL OR status = $2) \
               AND ($3::timestamptz IS NULL OR created_at >= $3) \
               AND ($4::timestamptz IS NULL OR created_at < $4) \
               AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6)) \
             ORDER BY created_at DESC, id DESC LIMIT $7"
        )))
        .bind(filter.user_id)
        .bind(filter.status.map(OrderStatus::as_str))
        .bind(filter.placed_from)
        .bind(filter.placed_before)
        .bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await
        .context("listing orders")?;
        orders_with_lines(&mut conn, rows).await
    }

    #[tracing::instrument(name = "orders.append_event", skip_all, err)]
    async fn append_event(
        &self,
        id: Uuid,
        entry: TimelineEntry,
        inbox: InboxEntry,
    ) -> anyhow::Result<Appended> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        if inbox
            .record(&mut tx)
            .await
            .context("recording the event in the inbox")?
            == Handled::Duplicate
        {
            return Ok(Appended::Duplicate);
        }
        let appended = append_timeline(&mut tx, id, &entry).await?;
        tx.commit().await.context("committing")?;
        Ok(if appended {
            Appended::Appended
        } else {
            Appended::UnknownOrder
        })
    }
}
