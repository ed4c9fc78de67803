//! Refresh-token families in Postgres. Rotation locks the token and its family, so two
//! concurrent uses of one token cannot both succeed: the second sees a spent token.

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use crate::app::ports::{RevokedSession, Rotation, SessionStore, TokenHash};
use crate::domain::UserId;

#[derive(Debug, Clone)]
pub struct PgSessionStore {
    pool: PgPool,
}

impl PgSessionStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(FromRow)]
struct Presented {
    family_id: Uuid,
    user_id: UserId,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

#[derive(FromRow)]
struct Revoked {
    id: Uuid,
    revoked_at: DateTime<Utc>,
}

impl From<Revoked> for RevokedSession {
    fn from(row: Revoked) -> Self {
        Self {
            family_id: row.id,
            revoked_at: row.revoked_at,
        }
    }
}

#[async_trait]
impl SessionStore for PgSessionStore {
    async fn start(
        &self,
        family_id: Uuid,
        user_id: UserId,
        token: TokenHash,
        expires_at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        sqlx::query("INSERT INTO refresh_family (id, user_id) VALUES ($1, $2)")
            .bind(family_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .context("starting the session")?;
        sqlx::query(
            "INSERT INTO refresh_token (token_hash, family_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token.as_slice())
        .bind(family_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .context("storing the refresh token")?;
        tx.commit().await.context("committing the session")?;
        Ok(())
    }

    #[tracing::instrument(name = "sessions.rotate", skip_all, err)]
    async fn rotate(
        &self,
        presented: TokenHash,
        replacement: TokenHash,
        expires_at: DateTime<Utc>,
    ) -> anyhow::Result<Rotation> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let found = sqlx::query_as::<_, Presented>(
            "SELECT t.family_id, f.user_id, t.expires_at, t.used_at, f.revoked_at \
             FROM refresh_token t JOIN refresh_family f ON f.id = t.family_id \
             WHERE t.token_hash = $1 FOR UPDATE OF t, f",
        )
        .bind(presented.as_slice())
        .fetch_optional(&mut *tx)
        .await
        .context("reading the refresh token")?;

        let Some(token) = found else {
            return Ok(Rotation::Invalid);
        };
        if token.revoked_at.is_some() {
            return Ok(Rotation::Invalid);
        }
        if token.used_at.is_some() {
            sqlx::query(
                "UPDATE refresh_family SET revoked_at = now(), revoked_reason = 'reuse_detected' \
                 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(token.family_id)
            .execute(&mut *tx)
            .await
            .context("revoking the family")?;
            tx.commit().await.context("committing the revocation")?;
            return Ok(Rotation::Reused {
                family_id: token.family_id,
            });
        }
        if token.expires_at <= Utc::now() {
            return Ok(Rotation::Invalid);
        }

        sqlx::query("UPDATE refresh_token SET used_at = now() WHERE token_hash = $1")
            .bind(presented.as_slice())
            .execute(&mut *tx)
            .await
            .context("spending the refresh token")?;
        sqlx::query(
            "INSERT INTO refresh_token (token_hash, family_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(replacement.as_slice())
        .bind(token.family_id)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .context("storing the next refresh token")?;
        tx.commit().await.context("committing the rotation")?;
        Ok(Rotation::Rotated {
            user_id: token.user_id,
            family_id: token.family_id,
        })
    }

    async fn revoke(&self, family_id: Uuid, reason: &str) -> anyhow::Result<()> {
        sqlx::query(
            "UPDATE refresh_family SET revoked_at = now(), revoked_reason = $2 \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(family_id)
        .bind(reason)
        .execute(&self.pool)
        .await
        .context("revoking the session")?;
        Ok(())
    }

    async fn revoked_since(&self, since: DateTime<Utc>) -> anyhow::Result<Vec<RevokedSession>> {
        let rows = sqlx::query_as::<_, Revoked>(
            "SELECT id, revoked_at FROM refresh_family WHERE revoked_at > $1",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .context("reading recent revocations")?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn unpublished_revocations(
        &self,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<RevokedSession>> {
        let rows = sqlx::query_as::<_, Revoked>(
            "SELECT id, revoked_at FROM refresh_family \
             WHERE revoked_at > $1 AND NOT revocation_published",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await
        .context("reading unpublished revocations")?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn mark_published(&self, family_ids: &[Uuid]) -> anyhow::Result<()> {
        if family_ids.is_empty() {
            return Ok(());
        }
        sqlx::query("UPDATE refresh_family SET revocation_published = true WHERE id = ANY($1)")
            .bind(family_ids)
            .execute(&self.pool)
            .await
            .context("recording published revocations")?;
        Ok(())
    }
}
