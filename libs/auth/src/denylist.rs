//! Revoked access tokens: a denylist in Redis, keyed by `jti`, that forgets each entry when the
//! token would have expired anyway.

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;
use uuid::Uuid;

/// Where revoked token ids are kept.
#[async_trait]
pub trait Denylist: Send + Sync {
    /// Revokes `jti` for `remaining` (the token's remaining lifetime).
    async fn revoke(&self, jti: Uuid, remaining: Duration) -> anyhow::Result<()>;
    async fn is_revoked(&self, jti: Uuid) -> anyhow::Result<bool>;
}

/// The denylist shared by every verifier, in Redis.
#[derive(Clone)]
pub struct RedisDenylist {
    redis: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisDenylist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDenylist")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisDenylist {
    /// Keys are `<prefix>auth:revoked:<jti>`; tests pass a unique prefix.
    pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self {
            redis,
            prefix: format!("{prefix}auth:revoked:"),
        }
    }
}

#[async_trait]
impl Denylist for RedisDenylist {
    async fn revoke(&self, jti: Uuid, remaining: Duration) -> anyhow::Result<()> {
        let seconds = remaining.as_secs().max(1);
        let mut redis = self.redis.clone();
        let () = redis
            .set_ex(format!("{}{jti}", self.prefix), 1u8, seconds)
            .await?;
        Ok(())
    }

    async fn is_revoked(&self, jti: Uuid) -> anyhow::Result<bool> {
        let mut redis = self.redis.clone();
        let exists: bool = redis.exists(format!("{}{jti}", self.prefix)).await?;
        Ok(exists)
    }
}
