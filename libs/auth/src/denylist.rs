//! Revoked sessions: a denylist in Redis, keyed by session id (`sid`), that forgets each entry
//! when every access token of the session would have expired anyway.
//!
//! The user service is the only writer and keeps every revocation durably in its own database;
//! Redis is the fast, shared copy every verifier reads. Because Redis may lose its data (a
//! restart without persistence, a failover), the list carries a marker, `revocations-loaded`,
//! that the user service sets after it has (re)published every revocation still in force. A
//! verifier that finds no marker knows the list is incomplete and treats it as unavailable,
//! never as "nothing revoked".

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use uuid::Uuid;

/// Why the denylist could not answer.
#[derive(Debug, thiserror::Error)]
pub enum DenylistError {
    /// The store is unreachable.
    #[error("the denylist is unreachable: {0}")]
    Unreachable(String),
    /// The store answers but the list is not (yet, or no longer) complete.
    #[error(
        "the denylist is not loaded (its store lost its data and it has not been republished yet)"
    )]
    NotLoaded,
}

/// Where revoked sessions are kept.
#[async_trait]
pub trait Denylist: Send + Sync {
    /// Revokes session `sid` for `remaining` (the longest an access token of it may still live).
    async fn revoke_session(&self, sid: Uuid, remaining: Duration) -> Result<(), DenylistError>;
    /// Whether session `sid` was revoked.
    async fn is_session_revoked(&self, sid: Uuid) -> Result<bool, DenylistError>;
    /// Whether the list is complete (the marker is present).
    async fn is_loaded(&self) -> Result<bool, DenylistError>;
    /// Publishes every revocation still in force, each for its remaining time, and declares the
    /// list complete, in one atomic step: a store that restarts half-way ends up either with
    /// all of it or without the marker.
    async fn load(&self, revocations: &[(Uuid, Duration)]) -> Result<(), DenylistError>;
}

/// The denylist shared by every verifier, in Redis.
#[derive(Clone)]
pub struct RedisDenylist {
    redis: ConnectionManager,
    sessions: String,
    loaded: String,
}

impl std::fmt::Debug for RedisDenylist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDenylist")
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

fn unreachable(err: &redis::RedisError) -> DenylistError {
    DenylistError::Unreachable(err.to_string())
}

impl RedisDenylist {
    /// Keys are `<prefix>auth:session-revoked:<sid>` and `<prefix>auth:revocations-loaded`;
    /// tests pass a unique prefix.
    pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self {
            redis,
            sessions: format!("{prefix}auth:session-revoked:"),
            loaded: format!("{prefix}auth:revocations-loaded"),
        }
    }
}

#[async_trait]
impl Denylist for RedisDenylist {
    async fn revoke_session(&self, sid: Uuid, remaining: Duration) -> Result<(), DenylistError> {
        let seconds = remaining.as_secs().max(1);
        let mut redis = self.redis.clone();
        let () = redis
            .set_ex(format!("{}{sid}", self.sessions), 1u8, seconds)
            .await
            .map_err(|err| unreachable(&err))?;
        Ok(())
    }

    async fn is_session_revoked(&self, sid: Uuid) -> Result<bool, DenylistError> {
        let mut redis = self.redis.clone();
        // One round trip answers both questions: is the list complete, and is sid on it.
        let (loaded, revoked): (Option<String>, Option<String>) = redis
            .mget(&[self.loaded.clone(), format!("{}{sid}", self.sessions)])
            .await
            .map_err(|err| unreachable(&err))?;
        if loaded.is_none() {
            return Err(DenylistError::NotLoaded);
        }
        Ok(revoked.is_some())
    }

    async fn is_loaded(&self) -> Result<bool, DenylistError> {
        let mut redis = self.redis.clone();
        redis
            .exists(&self.loaded)
            .await
            .map_err(|err| unreachable(&err))
    }

    async fn load(&self, revocations: &[(Uuid, Duration)]) -> Result<(), DenylistError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (sid, remaining) in revocations {
            pipe.set_ex(
                format!("{}{sid}", self.sessions),
                1u8,
                remaining.as_secs().max(1),
            )
            .ignore();
        }
        pipe.set(&self.loaded, chrono::Utc::now().to_rfc3339())
            .ignore();
        let mut redis = self.redis.clone();
        let () = pipe
            .query_async(&mut redis)
            .await
            .map_err(|err| unreachable(&err))?;
        Ok(())
    }
}
