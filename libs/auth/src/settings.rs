//! The `auth` settings section: what a valid token looks like, shared by issuer and verifiers.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shop_platform::config::ConfigError;

/// The most clock skew a verifier may tolerate.
pub const MAX_LEEWAY: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The `iss` claim of every access token.
    pub issuer: String,
    /// The `aud` claim of every access token.
    pub audience: String,
    /// Clock skew tolerated on `exp`; at most 30 s.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// Refetch the key set at most this often when tokens arrive with an unknown `kid`.
    #[serde(with = "humantime_serde")]
    pub jwks_min_refresh_interval: Duration,
    /// Refetch the key set at least this often, so retired keys stop being accepted.
    #[serde(with = "humantime_serde")]
    pub jwks_max_age: Duration,
    /// When the revocation list (Redis) is unreachable, accept signed, unexpired tokens anyway
    /// (true: availability first, revocation is best effort during the outage) or reject them.
    pub denylist_fail_open: bool,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            issuer: "ferris-shop".to_owned(),
            audience: "ferris-shop".to_owned(),
            leeway: Duration::from_secs(30),
            jwks_min_refresh_interval: Duration::from_secs(5),
            jwks_max_age: Duration::from_secs(600),
            denylist_fail_open: true,
        }
    }
}

impl AuthSettings {
    /// Checks the section; `section` is its name in the service's settings (usually "auth").
    pub fn validate(&self, section: &str) -> Result<(), ConfigError> {
        if self.issuer.is_empty() {
            return Err(ConfigError::new(&[section, "issuer"], "must not be empty"));
        }
        if self.audience.is_empty() {
            return Err(ConfigError::new(
                &[section, "audience"],
                "must not be empty",
            ));
        }
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::new(
                &[section, "leeway"],
                "must be at most 30s",
            ));
        }
        Ok(())
    }
}
