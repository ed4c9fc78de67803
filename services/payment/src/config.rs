//! Settings of the payment service. The defaults run against local Postgres and RabbitMQ, with
//! the user service on its default port, with no configuration.

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

/// Everything the payment service reads at startup; `SHOP_<SECTION>__<KEY>` overrides any field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub grpc: ServerSettings,
    pub admin: AdminSettings,
    pub shutdown: ShutdownSettings,
    pub log: LogSettings,
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    /// The session denylist that every service checks people's tokens against.
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub upstream: Upstreams,
    pub provider: ProviderSettings,
    pub charge: ChargeSettings,
}

/// Where the peers are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstreams {
    /// The user service, for the keys that verify tokens.
    pub user: String,
}

/// The simulated card processor, and the knobs for chaos experiments.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// Added to every processor call.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Share of processor calls (0.0 to 1.0) that fail transiently.
    pub failure_rate: f64,
    /// How long one processor call may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per processor operation when it fails transiently.
    pub attempts: usize,
}

/// How charges coordinate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeSettings {
    /// How long one caller may talk to the processor for a payment before another may.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How long a call waits for a concurrent call's charge to finish.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            grpc: services::public_settings("payment"),
            admin: services::admin_settings("payment"),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
            database: DatabaseSettings::local("payments"),
            amqp: AmqpSettings::default(),
            redis: RedisSettings::default(),
            auth: AuthSettings::default(),
            upstream: Upstreams {
                user: services::local_url("user"),
            },
            provider: ProviderSettings {
                latency: Duration::ZERO,
                failure_rate: 0.0,
                timeout: Duration::from_secs(2),
                attempts: 3,
            },
            charge: ChargeSettings {
                lease: Duration::from_secs(10),
                max_wait: Duration::from_secs(5),
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
        if !(0.0..=1.0).contains(&self.provider.failure_rate) {
            return Err(ConfigError::new(
                &["provider", "failure_rate"],
                "must be between 0 and 1",
            ));
        }
        if self.provider.timeout.is_zero() {
            return Err(ConfigError::new(
                &["provider", "timeout"],
                "must be positive",
            ));
        }
        if self.provider.attempts == 0 {
            return Err(ConfigError::new(
                &["provider", "attempts"],
                "must be at least 1",
            ));
        }
        if self.charge.lease <= self.provider.timeout {
            return Err(ConfigError::new(
                &["charge", "lease"],
                "must be longer than provider.timeout",
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
