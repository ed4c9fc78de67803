//! Settings of the user service. The defaults run against local Postgres, Redis and RabbitMQ
//! with no configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shop_auth::AuthSettings;
use shop_messaging::AmqpSettings;
use shop_platform::config::{
    AdminSettings, ConfigError, DatabaseSettings, LogSettings, ServerSettings, ServiceSettings,
    ShutdownSettings, Validate,
};
use shop_platform::redis::RedisSettings;

use crate::domain::LoginThrottle;

/// Everything the user service reads at startup; `SHOP_<SECTION>__<KEY>` overrides any field.
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
    pub tokens: TokenSettings,
    pub login: LoginSettings,
}

/// Token lifetimes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// Access tokens live briefly: revocation is a denylist entry, and a short life bounds it.
    #[serde(with = "humantime_serde")]
    pub access_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub refresh_ttl: Duration,
}

/// Brute-force protection per account.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSettings {
    /// Failed logins allowed before the account has to wait.
    pub free_failures: u32,
    /// The first wait; doubled by each further failure.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
}

impl LoginSettings {
    pub fn throttle(&self) -> LoginThrottle {
        LoginThrottle {
            free_failures: self.free_failures,
            base_delay: self.base_delay,
            max_delay: self.max_delay,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            grpc: ServerSettings::on_port(50051),
            admin: AdminSettings::on_port(9081),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
            database: DatabaseSettings::local("users"),
            amqp: AmqpSettings::default(),
            redis: RedisSettings::default(),
            auth: AuthSettings::default(),
            tokens: TokenSettings {
                access_ttl: Duration::from_secs(15 * 60),
                refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            },
            login: LoginSettings {
                free_failures: 5,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(15 * 60),
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
        if self.tokens.access_ttl < Duration::from_secs(60)
            || self.tokens.access_ttl > Duration::from_secs(3600)
        {
            return Err(ConfigError::new(
                &["tokens", "access_ttl"],
                "must be between 1m and 1h",
            ));
        }
        if self.tokens.refresh_ttl <= self.tokens.access_ttl {
            return Err(ConfigError::new(
                &["tokens", "refresh_ttl"],
                "must be longer than access_ttl",
            ));
        }
        if self.login.base_delay > self.login.max_delay {
            return Err(ConfigError::new(
                &["login", "base_delay"],
                "must not exceed max_delay",
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
