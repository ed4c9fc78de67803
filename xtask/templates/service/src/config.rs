//! Settings of the {{name}} service. The defaults run against local Postgres, Redis and
//! RabbitMQ, with the user service on its default port, with no configuration.

use serde::{Deserialize, Serialize};
use shop_backend::{BackendSettings, OwnSettings, UserUpstream};
use shop_platform::config::{ConfigError, Validate};

/// Everything the {{name}} service reads at startup: the sections every backend has and its
/// own; `SHOP_<SECTION>__<KEY>` overrides any field.
pub type Settings = BackendSettings<{{Name}}Settings>;

/// The sections only the {{name}} service has. Add a section here (with its default and its
/// checks below) and it is read from `SHOP_<SECTION>__<KEY>` like every other.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct {{Name}}Settings {
    pub upstream: UserUpstream,
}

impl OwnSettings for {{Name}}Settings {
    const SERVICE: &'static str = "{{name}}";
    const DATABASE: &'static str = "{{name}}";
}

impl Validate for {{Name}}Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.upstream.validate("upstream")
    }
}
