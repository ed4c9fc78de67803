//! Settings of the user service. The defaults run against local Postgres, Redis and RabbitMQ
//! with no configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shop_auth::is_service_name;
use shop_backend::{BackendSettings, OwnSettings};
use shop_platform::config::{ConfigError, Secret, Validate};

use crate::domain::LoginThrottle;

/// Everything the user service reads at startup: the sections every backend has and its
/// own; `SHOP_<SECTION>__<KEY>` overrides any field.
pub type Settings = BackendSettings<UserSettings>;

/// The sections only the user service has.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSettings {
    pub tokens: TokenSettings,
    pub login: LoginSettings,
    /// The services that may ask for a service token: name -> the SHA-256 of its secret, as 64
    /// hex digits (`SHOP_SERVICE_CLIENTS__ORDER=<digest>`). Empty by default: no service
    /// has an identity until an operator gives it one (`shop-user service-credentials`).
    pub service_clients: BTreeMap<String, Secret>,
    pub revocations: RevocationSettings,
    pub mail: MailSettings,
}

/// The customer's mail: a welcome, and their order's confirmation, shipment, cancellation and
/// refund.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// The SMTP server: `smtp://host:1025` (plain, e.g. Mailpit), `smtp://user:password@host:587?tls=required`
    /// (STARTTLS) or `smtps://user:password@host:465` (TLS). Empty: each mail is written as an
    /// `.eml` file to `dir` instead (development).
    pub smtp_url: Secret,
    /// Where mails go as `.eml` files when there is no SMTP server (default: `ferris-shop-mail`
    /// in the system's temporary directory; `scripts/dev-up.sh` uses `.dev/mail`).
    pub dir: String,
    /// The sender, e.g. `Ferris Shop <shop@ferris-shop.example>`.
    pub from: String,
    /// How long one SMTP conversation may take; a slow server is retried later.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

/// Publishing revoked sessions to the verifiers' denylist.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationSettings {
    /// How often to publish revocations that did not reach Redis yet, and to check that Redis
    /// still has the list (republishing all of it when it lost it).
    #[serde(with = "humantime_serde")]
    pub publish_interval: Duration,
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
    /// Service tokens live briefly too; their holders renew them in the background.
    #[serde(with = "humantime_serde")]
    pub service_ttl: Duration,
    /// A rotated-in signing key is published this long before it signs: longer than any
    /// verifier's JWKS refresh (istiod's is 5 minutes in k8s/istio/install/istio.yaml), so none
    /// meets a token signed with a key it has not fetched.
    #[serde(with = "humantime_serde")]
    pub key_publish_ahead: Duration,
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
    /// Password hashes (sign-up, sign-in, password checks) computed at once. Each argon2id
    /// hash holds 7 MiB for its duration, so this bounds that memory (and the CPU a burst
    /// of sign-ins can take); more wait their turn. The number of cores is plenty.
    pub max_concurrent_hashes: usize,
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

impl OwnSettings for UserSettings {
    const SERVICE: &'static str = "user";
    const DATABASE: &'static str = "users";
}

impl Default for UserSettings {
    fn default() -> Self {
        Self {
            tokens: TokenSettings {
                access_ttl: Duration::from_secs(15 * 60),
                refresh_ttl: Duration::from_secs(30 * 24 * 3600),
                service_ttl: Duration::from_secs(10 * 60),
                key_publish_ahead: Duration::from_secs(10 * 60),
            },
            login: LoginSettings {
                free_failures: 5,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(15 * 60),
                max_concurrent_hashes: 2,
            },
            service_clients: BTreeMap::new(),
            revocations: RevocationSettings {
                publish_interval: Duration::from_secs(1),
            },
            mail: MailSettings {
                smtp_url: Secret::new(""),
                dir: std::env::temp_dir()
                    .join("ferris-shop-mail")
                    .to_string_lossy()
                    .into_owned(),
                from: "Ferris Shop <shop@ferris-shop.example>".to_owned(),
                timeout: Duration::from_secs(10),
            },
        }
    }
}

impl Validate for UserSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.login.max_concurrent_hashes == 0 {
            return Err(ConfigError::new(
                &["login", "max_concurrent_hashes"],
                "must be at least 1",
            ));
        }
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
        if self.tokens.service_ttl < Duration::from_secs(5)
            || self.tokens.service_ttl > Duration::from_secs(3600)
        {
            return Err(ConfigError::new(
                &["tokens", "service_ttl"],
                "must be between 5s and 1h",
            ));
        }
        for (name, digest) in &self.service_clients {
            if !is_service_name(name) {
                return Err(ConfigError::new(
                    &["service_clients", name.as_str()],
                    "the client id must be a service name: lower-case letters and digits",
                ));
            }
            if parse_digest(digest.expose()).is_none() {
                return Err(ConfigError::new(
                    &["service_clients", name.as_str()],
                    "must be the SHA-256 of the client's secret as 64 hex digits \
                     (`shop-user service-credentials <name>` prints it)",
                ));
            }
        }
        if self.revocations.publish_interval.is_zero() {
            return Err(ConfigError::new(
                &["revocations", "publish_interval"],
                "must be positive",
            ));
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                &["mail", "from"],
                "must be a mailbox such as `Ferris Shop <shop@example.com>`",
            ));
        }
        let url = self.mail.smtp_url.expose();
        if !(url.is_empty() || url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err(ConfigError::new(
                &["mail", "smtp_url"],
                "must start with smtp:// or smtps://",
            ));
        }
        if url.is_empty() && self.mail.dir.trim().is_empty() {
            return Err(ConfigError::new(
                &["mail", "dir"],
                "must be set when there is no smtp_url",
            ));
        }
        if self.mail.timeout.is_zero() {
            return Err(ConfigError::new(&["mail", "timeout"], "must be positive"));
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

/// The 32 bytes of a digest written as 64 hex digits.
pub fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut digest = [0u8; 32];
    for (i, byte) in digest.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(digest)
}

impl UserSettings {
    /// The registered service clients with their secrets' digests.
    pub fn service_client_digests(&self) -> BTreeMap<String, [u8; 32]> {
        self.service_clients
            .iter()
            .filter_map(|(name, digest)| Some((name.clone(), parse_digest(digest.expose())?)))
            .collect()
    }
}
