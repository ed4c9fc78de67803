//! Settings of the inventory service. The defaults run against local Postgres, Redis and
//! RabbitMQ, with the user service on its default port, with no configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shop_auth::AuthSettings;
use shop_messaging::AmqpSettings;
use shop_platform::config::{
    AdminSettings, ConfigError, DatabaseSettings, LogSettings, ServerSettings, ServiceSettings,
    ShutdownSettings, Validate,
};
use shop_platform::grpc_client::validate_uri;
use shop_platform::redis::RedisSettings;
use shop_platform::services;

/// Everything the inventory service reads at startup; `SHOP_<SECTION>__<KEY>` overrides any
/// field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub grpc: ServerSettings,
    pub admin: AdminSettings,
    pub shutdown: ShutdownSettings,
    pub log: LogSettings,
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub upstream: Upstreams,
    pub cache: CacheSettings,
    pub reservations: ReservationSettings,
}

/// Where the peers are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstreams {
    /// The user service, for the keys that verify tokens.
    pub user: String,
}

/// The Redis cache of product reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// How long a product stays cached (writes drop it sooner).
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
}

/// The stock held for orders in flight.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationSettings {
    /// How long a reservation holds stock without its saga coming back. Must be longer than
    /// the order saga's deadline.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// How often the expiry worker looks for reservations past their TTL.
    #[serde(with = "humantime_serde")]
    pub expiry_interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            grpc: services::public_settings("inventory"),
            admin: services::admin_settings("inventory"),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
            database: DatabaseSettings::local("inventory"),
            amqp: AmqpSettings::default(),
            redis: RedisSettings::default(),
            auth: AuthSettings::default(),
            upstream: Upstreams {
                user: services::local_url("user"),
            },
            cache: CacheSettings {
                ttl: Duration::from_secs(60),
            },
            reservations: ReservationSettings {
                ttl: Duration::from_secs(15 * 60),
                expiry_interval: Duration::from_secs(5),
            },
        }
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate("database")?;
        self.amqp.validate("amqp")?;
        self.redis.validate("redis")?;
        self.auth.validate("auth")?;
        validate_uri(&self.upstream.user, &["upstream", "user"])?;
        if self.cache.ttl.is_zero() {
            return Err(ConfigError::new(&["cache", "ttl"], "must be positive"));
        }
        if self.reservations.ttl < Duration::from_secs(1) {
            return Err(ConfigError::new(
                &["reservations", "ttl"],
                "must be at least 1s",
            ));
        }
        if self.reservations.expiry_interval.is_zero() {
            return Err(ConfigError::new(
                &["reservations", "expiry_interval"],
                "must be positive",
            ));
        }
        Ok(())
    }
}

impl ServiceSettings for Settings {
    fn log(&self) -> &LogSettings {
        &self.log
    }

    fn admin(&self) -> &AdminSettings {
        &self.admin
    }
}
