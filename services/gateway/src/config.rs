//! Settings of the gateway. The defaults run locally with the four backends on their default
//! ports, with no configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shop_auth::AuthSettings;
use shop_messaging::AmqpSettings;
use shop_platform::config::{
    AdminSettings, ConfigError, LogSettings, ServerSettings, ServiceSettings, ShutdownSettings,
    Validate,
};
use shop_platform::flags::FlagSettings;
use shop_platform::grpc_client::validate_uri;
use shop_platform::redis::RedisSettings;
use shop_platform::services;

/// Everything the gateway reads at startup; `SHOP_<SECTION>__<KEY>` overrides any field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub http: ServerSettings,
    pub admin: AdminSettings,
    pub shutdown: ShutdownSettings,
    pub log: LogSettings,
    pub redis: RedisSettings,
    pub amqp: AmqpSettings,
    pub auth: AuthSettings,
    pub upstream: Upstreams,
    pub deadlines: DeadlineSettings,
    pub breaker: BreakerSettings,
    pub retry: RetrySettings,
    pub rate_limit: RateLimitSettings,
    pub catalog_cache: CatalogCacheSettings,
    pub limits: LimitSettings,
    pub security: SecuritySettings,
    /// The runtime flag file the backends read, shown read-only in the back office
    /// (`GET /api/v1/admin/flags`); the gateway itself acts on no flag.
    pub flags: FlagSettings,
}

/// Where the backends are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstreams {
    pub user: String,
    pub inventory: String,
    pub order: String,
}

/// How long a route waits for the backends.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineSettings {
    #[serde(with = "humantime_serde")]
    pub read: Duration,
    #[serde(with = "humantime_serde")]
    pub write: Duration,
    /// Checkout runs the whole saga: longer than the order service's request budget.
    #[serde(with = "humantime_serde")]
    pub place_order: Duration,
}

/// The circuit breaker of each backend.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerSettings {
    /// Consecutive infrastructure failures that open it.
    pub failures: u32,
    /// How long it stays open the first time before calls are let through to try the backend.
    /// Each failed trial doubles it (with jitter of up to as much again), up to `open_at_most`;
    /// a successful one closes the breaker and starts again from here. Short, because most
    /// outages are a restart: a backend back within a second is called again within a second.
    #[serde(with = "humantime_serde")]
    pub open_for: Duration,
    /// The longest it stays open (before jitter) while the backend stays down.
    #[serde(with = "humantime_serde")]
    pub open_at_most: Duration,
}

/// Retries of reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySettings {
    /// Extra attempts of a read that found its backend UNAVAILABLE.
    pub attempts: usize,
    /// Retries may add at most this share (0.0 to 1.0) of the recent traffic.
    pub budget_percent: f32,
}

/// One rate: a sustained rate and the burst allowed on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatePolicy {
    pub per_minute: u32,
    pub burst: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Per client IP, without a token.
    pub anonymous: RatePolicy,
    /// Per signed-in user.
    pub user: RatePolicy,
    /// Per client IP, for login, registration and refresh, in addition.
    pub auth: RatePolicy,
    /// When Redis is unreachable: let requests through (true) or refuse with 503.
    pub fail_open: bool,
    /// Take the client IP from `X-Forwarded-For` (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogCacheSettings {
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    pub capacity: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// The largest request body accepted, in bytes.
    pub body_bytes: usize,
    /// A client must send a request's whole header within this; an idle keep-alive
    /// connection is closed after it.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// Bound on a whole request, body upload included (408 after it).
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Connections served at once; beyond it, 503 with Retry-After.
    pub max_connections: usize,
}

impl LimitSettings {
    /// What the HTTP server itself enforces.
    pub fn connections(&self) -> shop_platform::ConnectionLimits {
        shop_platform::ConnectionLimits {
            header_read_timeout: self.header_read_timeout,
            max_connections: self.max_connections,
        }
    }
}

/// What browsers are told about the gateway's responses (the headers themselves are in
/// `api::security`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// Send `Strict-Transport-Security` (one year, subdomains included). Turn it on only where
    /// the shop is reached over HTTPS alone, e.g. behind a TLS-terminating ingress: a browser
    /// that saw it refuses plain HTTP to the host for a year.
    pub hsts: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            http: services::public_settings("gateway"),
            admin: services::admin_settings("gateway"),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
            redis: RedisSettings::default(),
            amqp: AmqpSettings::default(),
            auth: AuthSettings::default(),
            upstream: Upstreams {
                user: services::local_url("user"),
                inventory: services::local_url("inventory"),
                order: services::local_url("order"),
            },
            deadlines: DeadlineSettings {
                read: Duration::from_secs(2),
                write: Duration::from_secs(5),
                place_order: Duration::from_secs(6),
            },
            breaker: BreakerSettings {
                failures: 5,
                open_for: Duration::from_millis(200),
                open_at_most: Duration::from_secs(5),
            },
            retry: RetrySettings {
                attempts: 2,
                budget_percent: 0.2,
            },
            rate_limit: RateLimitSettings {
                enabled: true,
                anonymous: RatePolicy {
                    per_minute: 300,
                    burst: 60,
                },
                user: RatePolicy {
                    per_minute: 600,
                    burst: 120,
                },
                auth: RatePolicy {
                    per_minute: 20,
                    burst: 10,
                },
                fail_open: true,
                trust_forwarded_for: false,
            },
            catalog_cache: CatalogCacheSettings {
                ttl: Duration::from_secs(5),
                capacity: 10_000,
            },
            limits: LimitSettings {
                body_bytes: 64 * 1024,
                header_read_timeout: Duration::from_secs(10),
                request_timeout: Duration::from_secs(30),
                max_connections: 1024,
            },
            security: SecuritySettings { hsts: false },
            flags: FlagSettings::default(),
        }
    }
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.redis.validate("redis")?;
        self.amqp.validate("amqp")?;
        self.auth.validate("auth")?;
        validate_uri(&self.upstream.user, &["upstream", "user"])?;
        validate_uri(&self.upstream.inventory, &["upstream", "inventory"])?;
        validate_uri(&self.upstream.order, &["upstream", "order"])?;
        for (key, value) in [
            ("read", self.deadlines.read),
            ("write", self.deadlines.write),
            ("place_order", self.deadlines.place_order),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(&["deadlines", key], "must be positive"));
            }
        }
        if self.breaker.failures == 0 {
            return Err(ConfigError::new(
                &["breaker", "failures"],
                "must be at least 1",
            ));
        }
        if self.breaker.open_for.is_zero() {
            return Err(ConfigError::new(
                &["breaker", "open_for"],
                "must be positive",
            ));
        }
        if self.breaker.open_at_most < self.breaker.open_for {
            return Err(ConfigError::new(
                &["breaker", "open_at_most"],
                "must be at least breaker.open_for",
            ));
        }
        if !(0.0..=1.0).contains(&self.retry.budget_percent) {
            return Err(ConfigError::new(
                &["retry", "budget_percent"],
                "must be between 0 and 1",
            ));
        }
        for (key, policy) in [
            ("anonymous", self.rate_limit.anonymous),
            ("user", self.rate_limit.user),
            ("auth", self.rate_limit.auth),
        ] {
            if policy.per_minute == 0 || policy.burst == 0 {
                return Err(ConfigError::new(
                    &["rate_limit", key],
                    "per_minute and burst must be positive",
                ));
            }
        }
        if self.limits.body_bytes < 1024 {
            return Err(ConfigError::new(
                &["limits", "body_bytes"],
                "must be at least 1024",
            ));
        }
        if self.limits.header_read_timeout.is_zero() {
            return Err(ConfigError::new(
                &["limits", "header_read_timeout"],
                "must be positive",
            ));
        }
        if self.limits.request_timeout <= self.deadlines.place_order {
            return Err(ConfigError::new(
                &["limits", "request_timeout"],
                "must be longer than deadlines.place_order",
            ));
        }
        if self.limits.max_connections == 0 {
            return Err(ConfigError::new(
                &["limits", "max_connections"],
                "must be at least 1",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_must_open_for_a_while_and_no_longer_than_its_cap() {
        let mut settings = Settings::default();
        assert_eq!(settings.validate(), Ok(()));

        settings.breaker.open_for = Duration::ZERO;
        assert_eq!(
            settings.validate().map_err(|err| err.key),
            Err("SHOP_BREAKER__OPEN_FOR".to_owned())
        );

        settings.breaker.open_for = Duration::from_secs(2);
        settings.breaker.open_at_most = Duration::from_secs(1);
        assert_eq!(
            settings.validate().map_err(|err| err.key),
            Err("SHOP_BREAKER__OPEN_AT_MOST".to_owned())
        );
    }
}
