//! Settings of the gateway. The defaults run locally with no configuration.

use serde::{Deserialize, Serialize};
use shop_platform::config::{
    AdminSettings, ConfigError, LogSettings, ServerSettings, ServiceSettings, ShutdownSettings,
    Validate,
};

/// Everything the gateway reads at startup; `SHOP_<SECTION>__<KEY>` overrides any field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub http: ServerSettings,
    pub admin: AdminSettings,
    pub shutdown: ShutdownSettings,
    pub log: LogSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: ServerSettings::on_port(8080),
            admin: AdminSettings::on_port(9080),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
        }
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        Ok(())
    }
}

impl ServiceSettings for Settings {
    fn log(&self) -> &LogSettings {
        &self.log
    }
}
