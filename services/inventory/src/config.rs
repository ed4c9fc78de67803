//! Settings of the inventory service. The defaults run against local Postgres with no configuration.

use serde::{Deserialize, Serialize};
use shop_platform::config::{
    AdminSettings, ConfigError, DatabaseSettings, LogSettings, ServerSettings, ServiceSettings,
    ShutdownSettings, Validate,
};

/// Everything the inventory service reads at startup; `SHOP_<SECTION>__<KEY>` overrides any field.
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
            grpc: ServerSettings::on_port(50052),
            admin: AdminSettings::on_port(9082),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
            database: DatabaseSettings::local("inventory"),
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
