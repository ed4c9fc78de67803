//! The Redis connection every service that uses Redis opens the same way.

use std::time::Duration;

use anyhow::Context as _;
use backon::{ExponentialBuilder, Retryable as _};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::{Deserialize, Serialize};

use crate::admin::{Dependency, Readiness};
use crate::config::{ConfigError, Secret};

/// The `redis` settings section.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://host:6379` (or `rediss://` for TLS).
    pub url: Secret,
    /// Prepended to every key this service writes; lets services (and tests) share a server.
    pub key_prefix: String,
    /// How long one command may take before it fails (Redis is a cache and a limiter here:
    /// a slow Redis must not become a slow shop).
    #[serde(with = "humantime_serde")]
    pub command_timeout: Duration,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: Secret::new("redis://127.0.0.1:6379"),
            key_prefix: "shop:".to_owned(),
            command_timeout: Duration::from_millis(250),
        }
    }
}

impl RedisSettings {
    pub fn validate(&self, section: &str) -> Result<(), ConfigError> {
        if redis::Client::open(self.url.expose()).is_err() {
            return Err(ConfigError::new(
                &[section, "url"],
                "is not a valid Redis URL",
            ));
        }
        Ok(())
    }
}

/// Opens a self-reconnecting connection, retrying while Redis is not up yet.
#[tracing::instrument(name = "redis.connect", skip_all)]
pub async fn connect(settings: &RedisSettings) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(settings.url.expose()).context("parsing the Redis URL")?;
    // Fail fast when Redis is gone: a command waits for at most one quick reconnection
    // attempt, so callers that degrade without Redis (the caches) degrade quickly.
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(settings.command_timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    let connect = || ConnectionManager::new_with_config(client.clone(), config.clone());
    connect
        .retry(
            ExponentialBuilder::default()
                .with_min_delay(Duration::from_millis(100))
                .with_max_delay(Duration::from_secs(2))
                .with_total_delay(Some(Duration::from_secs(30))),
        )
        .notify(
            |err, delay| tracing::warn!(error = %err, ?delay, "Redis not reachable yet; retrying"),
        )
        .await
        .context("connecting to Redis")
}

/// Reports whether Redis answers PING; `kind` says whether the service can serve without it
/// (see [`Dependency`]).
pub fn add_readiness_check(readiness: &Readiness, redis: &ConnectionManager, kind: Dependency) {
    let redis = redis.clone();
    readiness.add_dependency("redis", kind, move || {
        let mut redis = redis.clone();
        async move {
            let _: String = redis::cmd("PING")
                .query_async(&mut redis)
                .await
                .context("PING")?;
            Ok(())
        }
    });
}
