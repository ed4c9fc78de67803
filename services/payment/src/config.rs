//! Settings of the payment service. The defaults run against local Postgres and RabbitMQ, with
//! the user service on its default port, with no configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shop_backend::{BackendSettings, OwnSettings, UserUpstream};
use shop_platform::config::{ConfigError, Validate};

/// Everything the payment service reads at startup: the sections every backend has and its
/// own; `SHOP_<SECTION>__<KEY>` overrides any field.
pub type Settings = BackendSettings<PaymentSettings>;

/// The sections only the payment service has.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    pub upstream: UserUpstream,
    pub provider: ProviderSettings,
    pub charge: ChargeSettings,
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

impl OwnSettings for PaymentSettings {
    const SERVICE: &'static str = "payment";
    const DATABASE: &'static str = "payments";
}

impl Default for PaymentSettings {
    fn default() -> Self {
        Self {
            upstream: UserUpstream::default(),
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

impl Validate for PaymentSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.upstream.validate("upstream")?;
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
