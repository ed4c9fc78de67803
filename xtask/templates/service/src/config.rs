//! Settings of the {{name}} service. The defaults run against local Postgres, Redis and
//! RabbitMQ, with the user service on its default port, with no configuration.

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

/// Everything the {{name}} service reads at startup; `SHOP_<SECTION>__<KEY>` overrides any
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
    /// The session denylist that every service checks people's tokens against.
    pub redis: RedisSettings,
    pub auth: AuthSettings,
    pub upstream: Upstreams,
}

/// Where the peers are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstreams {
    /// The user service, for the keys that verify tokens.
    pub user: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            grpc: services::public_settings("{{name}}"),
            admin: services::admin_settings("{{name}}"),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
            database: DatabaseSettings::local("{{name}}"),
            amqp: AmqpSettings::default(),
            redis: RedisSettings::default(),
            auth: AuthSettings::default(),
            upstream: Upstreams {
                user: services::local_url("user"),
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
