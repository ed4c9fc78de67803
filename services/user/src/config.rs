//! Settings of the user service. The defaults run against local Postgres with no configuration.

use serde::{Deserialize, Serialize};
use shop_platform::config::{
    AdminSettings, ConfigError, DatabaseSettings, LogSettings, ServerSettings, ServiceSettings,
    ShutdownSettings, Validate,
};

/// Everything the user service reads at startup; `SHOP_<SECTION>__<KEY>` overrides any field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub grpc: ServerSettings,
    pub admin: AdminSettings,
    pub shutdown: ShutdownSettings,
    pub log: LogSettings,
    pub database: DatabaseSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            grpc: ServerSettings::on_port(50051),
            admin: AdminSettings::on_port(9081),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
            database: DatabaseSettings::local("users"),
        }
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate("database")
    }
}

impl ServiceSettings for Settings {
    fn log(&self) -> &LogSettings {
        &self.log
    }
}
