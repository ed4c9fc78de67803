//! Signing keys in Postgres. Creation and rotation take an advisory lock, so replicas that
//! start together create one first key between them, not one each. A rotated-in key is
//! published at once and signs from its `active_from` on (see migration 0006).

use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::app::ports::{KeyStore, StoredKey};

/// Arbitrary, fixed: the advisory lock that serialises key creation.
const KEY_LOCK: i64 = 0x5348_4f50_4b45_5953; // "SHOPKEYS"

#[derive(Debug, Clone)]
pub struct PgKeyStore {
    pool: PgPool,
}

impl PgKeyStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(FromRow)]
struct KeyRow {
    kid: String,
    private_key: Vec<u8>,
    public_key: Vec<u8>,
}

impl From<KeyRow> for StoredKey {
    fn from(row: KeyRow) -> Self {
        Self {
            kid: row.kid,
            private_pkcs8_der: row.private_key,
            public_key: row.public_key,
        }
    }
}

/// Stores a new key that signs from `ahead` from now on (and is published at once).
async fn insert_new_key(tx: &mut PgConnection, ahead: Duration) -> anyhow::Result<StoredKey> {
    let pair = shop_auth::keys::generate()?;
    let kid = Uuid::now_v7().simple().to_string();
    sqlx::query(
        "INSERT INTO signing_key (kid, private_key, public_key, active_from) \
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(&kid)
    .bind(&pair.private_pkcs8_der)
    .bind(pair.public_key.as_slice())
    .bind(ahead.as_secs_f64())
    .execute(tx)
    .await
    .context("storing the signing key")?;
    tracing::info!(%kid, "signing key created");
    Ok(StoredKey {
        kid,
        private_pkcs8_der: pair.private_pkcs8_der,
        public_key: pair.public_key.to_vec(),
    })
}

#[async_trait]
impl KeyStore for PgKeyStore {
    async fn ensure_one(&self) -> anyhow::Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEY_LOCK)
            .execute(&mut *tx)
            .await
            .context("locking key creation")?;
        let live: i64 =
            sqlx::query_scalar("SELECT count(*) FROM signing_key WHERE retired_at IS NULL")
                .fetch_one(&mut *tx)
                .await
                .context("counting signing keys")?;
        if live == 0 {
            // Nothing was published before it, so nothing to wait for: it signs at once.
            insert_new_key(&mut tx, Duration::ZERO).await?;
        }
        tx.commit().await.context("committing the key")?;
        Ok(())
    }

    async fn current(&self) -> anyhow::Result<StoredKey> {
        sqlx::query_as::<_, KeyRow>(
            "SELECT kid, private_key, public_key FROM signing_key \
             WHERE active_from <= now() AND (retired_at IS NULL OR retired_at > now()) \
             ORDER BY active_from DESC, kid DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await
        .context("reading the current signing key")?
        .map(StoredKey::from)
        .context("no signing key: the service creates one at startup")
    }

    async fn published(&self, overlap: Duration) -> anyhow::Result<Vec<StoredKey>> {
        let rows = sqlx::query_as::<_, KeyRow>(
            "SELECT kid, private_key, public_key FROM signing_key \
             WHERE retired_at IS NULL OR retired_at > now() - make_interval(secs => $1) \
             ORDER BY created_at DESC",
        )
        .bind(overlap.as_secs_f64())
        .fetch_all(&self.pool)
        .await
        .context("reading the published keys")?;
        Ok(rows.into_iter().map(StoredKey::from).collect())
    }

    async fn rotate(&self, publish_ahead: Duration) -> anyhow::Result<StoredKey> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(KEY_LOCK)
            .execute(&mut *tx)
            .await
            .context("locking key rotation")?;
        // The keys that sign now, or were going to, retire when the new one starts signing.
        sqlx::query(
            "UPDATE signing_key SET retired_at = now() + make_interval(secs => $1) \
             WHERE retired_at IS NULL",
        )
        .bind(publish_ahead.as_secs_f64())
        .execute(&mut *tx)
        .await
        .context("retiring the current key")?;
        let key = insert_new_key(&mut tx, publish_ahead).await?;
        tx.commit().await.context("committing the rotation")?;
        Ok(key)
    }
}
