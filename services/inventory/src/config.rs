//! Settings of the inventory service. The defaults run against local Postgres, Redis and
//! RabbitMQ, with the user service on its default port, with no configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shop_backend::{BackendSettings, OwnSettings, UserUpstream};
use shop_platform::config::{ConfigError, Validate};

/// Everything the inventory service reads at startup: the sections every backend has and its
/// own; `SHOP_<SECTION>__<KEY>` overrides any field.
pub type Settings = BackendSettings<InventorySettings>;

/// The sections only the inventory service has.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventorySettings {
    pub upstream: UserUpstream,
    pub cache: CacheSettings,
    pub reservations: ReservationSettings,
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

impl OwnSettings for InventorySettings {
    const SERVICE: &'static str = "inventory";
    const DATABASE: &'static str = "inventory";
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self {
            upstream: UserUpstream::default(),
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

impl Validate for InventorySettings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.upstream.validate("upstream")?;
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
