//! Payments in Postgres. Each transition is one conditional UPDATE: it happens only from the
//! state it expects, so concurrent actors cannot both move a payment.

use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shop_events::Money;
use shop_events::payment::PaymentRefunded;
use shop_messaging::OutboxWriter;
use sqlx::{AssertSqlSafe, FromRow, PgPool};
use uuid::Uuid;

use crate::app::ports::{OpenError, Opened, PaymentStore};
use crate::domain::{Payment, PaymentStatus};

const COLUMNS: &str = "id, order_id, user_id, status, amount_minor, currency, provider_reference, failure_reason, \
     created_at, updated_at, refunded_at";

#[derive(Debug, Clone)]
pub struct PgPaymentStore {
    pool: PgPool,
    outbox: OutboxWriter,
}

impl PgPaymentStore {
    pub fn new(pool: PgPool, outbox: OutboxWriter) -> Self {
        Self { pool, outbox }
    }
}

#[derive(FromRow)]
struct PaymentRow {
    id: Uuid,
    order_id: Uuid,
    user_id: Uuid,
    status: String,
    amount_minor: i64,
    currency: String,
    provider_reference: Option<String>,
    failure_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    refunded_at: Option<DateTime<Utc>>,
}

impl TryFrom<PaymentRow> for Payment {
    type Error = anyhow::Error;

    fn try_from(row: PaymentRow) -> anyhow::Result<Self> {
        Ok(Self {
            id: row.id,
            order_id: row.order_id,
            user_id: row.user_id,
            status: PaymentStatus::parse(&row.status).context("stored status")?,
            amount: Money::new(row.amount_minor, &row.currency).context("stored amount")?,
            provider_reference: row.provider_reference,
            failure_reason: row.failure_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
            refunded_at: row.refunded_at,
        })
    }
}

#[async_trait]
impl PaymentStore for PgPaymentStore {
    async fn open(
        &self,
        order_id: Uuid,
        user_id: Uuid,
        amount: &Money,
        lease: Duration,
    ) -> Result<Opened, OpenError> {
        // A new payment is leased to its opener in the same write: one commit, not two.
        let inserted: Option<PaymentRow> = sqlx::query_as(AssertSqlSafe(format!(
            "INSERT INTO payment (id, order_id, user_id, status, amount_minor, currency, lease_until) \
             VALUES ($1, $2, $3, 'PENDING', $4, $5, now() + make_interval(secs => $6)) \
             ON CONFLICT (order_id) DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(Uuid::now_v7())
        .bind(order_id)
        .bind(user_id)
        .bind(amount.amount_minor)
        .bind(&amount.currency)
        .bind(lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await
        .context("opening the payment")?;
        if let Some(row) = inserted {
            return Ok(Opened {
                payment: Payment::try_from(row)?,
                leased: true,
            });
        }
        let existing = self
            .get(order_id)
            .await?
            .context("the order's payment vanished")?;
        if existing.amount == *amount && existing.user_id == user_id {
            Ok(Opened {
                payment: existing,
                leased: false,
            })
        } else {
            Err(OpenError::Conflict(Box::new(existing)))
        }
    }

    async fn get(&self, order_id: Uuid) -> anyhow::Result<Option<Payment>> {
        sqlx::query_as::<_, PaymentRow>(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM payment WHERE order_id = $1"
        )))
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await
        .context("reading the payment")?
        .map(Payment::try_from)
        .transpose()
    }

    async fn acquire_lease(
        &self,
        order_id: Uuid,
        lease: Duration,
    ) -> anyhow::Result<Option<Payment>> {
        sqlx::query_as::<_, PaymentRow>(AssertSqlSafe(format!(
            "UPDATE payment SET lease_until = now() + make_interval(secs => $2) \
             WHERE order_id = $1 AND status IN ('PENDING', 'AUTHORIZED', 'CAPTURED') \
               AND (lease_until IS NULL OR lease_until < now()) \
             RETURNING {COLUMNS}"
        )))
        .bind(order_id)
        .bind(lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await
        .context("taking the lease")?
        .map(Payment::try_from)
        .transpose()
    }

    async fn release_lease(&self, order_id: Uuid) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE payment SET lease_until = NULL WHERE order_id = $1 AND lease_until IS NOT NULL",
        )
        .bind(order_id)
        .execute(&self.pool)
        .await
        .context("releasing the lease")?;
        Ok(())
    }

    async fn record_capture(&self, order_id: Uuid, reference: &str) -> anyhow::Result<bool> {
        let moved = sqlx::query(
            "UPDATE payment SET status = 'CAPTURED', provider_reference = $2, lease_until = NULL, \
               updated_at = now() \
             WHERE order_id = $1 AND status IN ('PENDING', 'AUTHORIZED')",
        )
        .bind(order_id)
        .bind(reference)
        .execute(&self.pool)
        .await
        .context("recording the capture")?;
        Ok(moved.rows_affected() == 1)
    }

    async fn record_decline(&self, order_id: Uuid, reason: &str) -> anyhow::Result<bool> {
        let moved = sqlx::query(
            "UPDATE payment SET status = 'DECLINED', failure_reason = $2, lease_until = NULL, updated_at = now() \
             WHERE order_id = $1 AND status = 'PENDING'",
        )
        .bind(order_id)
        .bind(reason)
        .execute(&self.pool)
        .await
        .context("recording the decline")?;
        Ok(moved.rows_affected() == 1)
    }

    async fn record_failure(
        &self,
        order_id: Uuid,
        from: PaymentStatus,
        reason: &str,
    ) -> anyhow::Result<bool> {
        let moved = sqlx::query(
            "UPDATE payment SET status = 'FAILED', failure_reason = $3, lease_until = NULL, updated_at = now() \
             WHERE order_id = $1 AND status = $2",
        )
        .bind(order_id)
        .bind(from.as_str())
        .bind(reason)
        .execute(&self.pool)
        .await
        .context("recording the failure")?;
        Ok(moved.rows_affected() == 1)
    }

    async fn record_refund(&self, order_id: Uuid, reason: &str) -> anyhow::Result<bool> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let refunded: Option<PaymentRow> = sqlx::query_as(AssertSqlSafe(format!(
            "UPDATE payment SET status = 'REFUNDED', refund_reason = $2, refunded_at = now(), lease_until = NULL, \
                 updated_at = now() \
             WHERE order_id = $1 AND status = 'CAPTURED' RETURNING {COLUMNS}"
        )))
        .bind(order_id)
        .bind(reason)
        .fetch_optional(&mut *tx)
        .await
        .context("recording the refund")?;
        let Some(row) = refunded else {
            return Ok(false);
        };
        let payment = Payment::try_from(row)?;
        self.outbox
            .append(
                &mut tx,
                PaymentRefunded {
                    payment_id: payment.id,
                    order_id,
                    amount: payment.amount.clone(),
                    reason: reason.to_owned(),
                    refunded_at: payment.refunded_at.unwrap_or_else(Utc::now),
                    user_id: Some(payment.user_id),
                },
            )
            .await
            .context("writing payment.refunded to the outbox")?;
        tx.commit().await.context("committing the refund")?;
        Ok(true)
    }
}
