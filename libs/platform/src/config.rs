//! Typed, layered configuration: compiled-in defaults overridden by `SHOP_<SECTION>__<KEY>`.
//!
//! Every service describes its settings as one struct whose `Default` is a working local setup,
//! so `cargo run` needs no configuration at all. [`load`] lays the environment over those
//! defaults and then runs [`Validate`], so a bad value stops the service at startup with one line
//! that names the variable to fix, instead of failing later at the first request.

use std::cell::Cell;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Serialized};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The prefix of every environment variable the services read (besides `OTEL_*` and `RUST_LOG`).
pub const ENV_PREFIX: &str = "SHOP_";
/// Separates a section from its key: `SHOP_DATABASE__URL` is `database.url`.
pub const ENV_SEPARATOR: &str = "__";

/// A configuration problem, already phrased for the operator.
///
/// `key` is the environment variable to change; `message` says what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    /// A problem with the setting at `path` (e.g. `["database", "url"]`).
    pub fn new<P: AsRef<str>>(path: &[P], message: impl Into<String>) -> Self {
        Self {
            key: env_var_name(path),
            message: message.into(),
        }
    }
}

/// The environment variable that sets the value at `path`.
pub fn env_var_name<P: AsRef<str>>(path: &[P]) -> String {
    let joined = path
        .iter()
        .map(|part| part.as_ref().to_uppercase())
        .collect::<Vec<_>>()
        .join(ENV_SEPARATOR);
    format!("{ENV_PREFIX}{joined}")
}

/// Checks that values which parsed are also usable (ranges, URL schemes, relations).
pub trait Validate {
    /// Returns the first problem found.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// What the shared `main` needs to know about a service's settings.
pub trait ServiceSettings: Default + Serialize + DeserializeOwned + Validate {
    /// The logging section.
    fn log(&self) -> &LogSettings;
    /// Where `/healthz` and `/readyz` answer (the `probe` command asks there).
    fn admin(&self) -> &AdminSettings;
    /// The database the service owns, if any: what `migrate` creates and migrates.
    fn database(&self) -> Option<&DatabaseSettings> {
        None
    }
}

/// Loads `T` from its defaults overridden by the process environment.
pub fn load<T>() -> Result<T, ConfigError>
where
    T: Default + Serialize + DeserializeOwned + Validate,
{
    // Only `SHOP_<SECTION>__<KEY>` names are settings. Other `SHOP_` variables (the tests'
    // `SHOP_TEST_*` URLs, the CLI's `SHOP_ADMIN_PASSWORD`) are not, and must not trip the
    // unknown-key check that catches misspelt sections.
    load_from(
        &Env::prefixed(ENV_PREFIX)
            .filter(|key| key.as_str().contains(ENV_SEPARATOR))
            .split(ENV_SEPARATOR),
    )
}

/// Every variable `env` selects, as the string it was set to.
///
/// figment's `Env` provider reads each value as a literal, so `123456` becomes a number and a
/// string setting whose value looks like one (a secret of digits, `007`, a version `1.10`) is
/// refused or would lose its form. Here `Env` only selects and names the variables; each value
/// is merged as a string at its key path, and [`extract`] turns one into a number or a boolean
/// only where the setting's type asks for it (figment's lossy extraction).
fn load_from<T>(env: &Env) -> Result<T, ConfigError>
where
    T: Default + Serialize + DeserializeOwned + Validate,
{
    let figment = env.iter().fold(
        Figment::from(Serialized::defaults(T::default())),
        |figment, (key, value)| figment.merge(Serialized::default(key.as_str(), value)),
    );
    extract(&figment)
}

fn extract<T: DeserializeOwned + Validate>(figment: &Figment) -> Result<T, ConfigError> {
    let settings: T = figment.extract_lossy().map_err(|err| {
        // figment reports a chain of errors; the first one names the offending key.
        let first = err.into_iter().next();
        match first {
            Some(err) => ConfigError::new(&err.path, err.kind.to_string()),
            None => ConfigError {
                key: ENV_PREFIX.trim_end_matches('_').to_owned(),
                message: "unreadable configuration".to_owned(),
            },
        }
    })?;
    settings.validate()?;
    Ok(settings)
}

/// A string that must not appear in logs or `Debug` output (passwords, URLs with credentials).
///
/// It serialises as itself (the defaults reach figment through `Serialize`), except inside
/// [`redacted_json`], which is how settings are shown to people.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

thread_local! {
    static REDACTING: Cell<bool> = const { Cell::new(false) };
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if REDACTING.get() {
            serializer.serialize_str("[redacted]")
        } else {
            serializer.serialize_str(&self.0)
        }
    }
}

/// `settings` as JSON with every [`Secret`] replaced by `"[redacted]"`: safe to print or log.
pub fn redacted_json<T: Serialize>(settings: &T) -> serde_json::Result<serde_json::Value> {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            REDACTING.set(false);
        }
    }
    REDACTING.set(true);
    let _reset = Reset;
    serde_json::to_value(settings)
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call it only where the value is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Where the public server (gRPC, or HTTP for the gateway) listens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// Socket address; port 0 picks a free port (tests do).
    pub addr: SocketAddr,
}

impl ServerSettings {
    pub fn on_port(port: u16) -> Self {
        Self {
            addr: SocketAddr::from(([0, 0, 0, 0], port)),
        }
    }
}

/// Where `/healthz`, `/readyz` and `/metrics` are served.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    pub addr: SocketAddr,
}

impl AdminSettings {
    pub fn on_port(port: u16) -> Self {
        Self {
            addr: SocketAddr::from(([0, 0, 0, 0], port)),
        }
    }
}

/// How a service stops on SIGTERM.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSettings {
    /// Time between turning not-ready and closing the listener, so load balancers (Kubernetes
    /// endpoints, Envoy) stop sending new requests first. 0 locally; a few seconds in a cluster.
    #[serde(with = "humantime_serde")]
    pub pre_stop_delay: Duration,
    /// Upper bound on waiting for in-flight requests and workers once the listener is closed.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        Self {
            pre_stop_delay: Duration::ZERO,
            drain_timeout: Duration::from_secs(3),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// JSON when stdout is not a terminal (containers, log files), pretty otherwise.
    #[default]
    Auto,
    Json,
    Pretty,
}

/// Logging; the filter itself comes from the standard `RUST_LOG`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
}

/// A Postgres connection pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host:port/database`.
    pub url: Secret,
    pub max_connections: u32,
    pub min_connections: u32,
    /// How long a request may wait for a pooled connection before failing.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

impl DatabaseSettings {
    /// Local defaults: the Postgres on 127.0.0.1 with trust auth, one database per service.
    pub fn local(database: &str) -> Self {
        Self {
            url: Secret::new(format!("postgres://postgres@127.0.0.1:5432/{database}")),
            max_connections: 10,
            min_connections: 1,
            acquire_timeout: Duration::from_secs(3),
        }
    }

    /// Checks the section; `section` is its name in the service's settings (usually "database").
    pub fn validate(&self, section: &str) -> Result<(), ConfigError> {
        let url = self.url.expose();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::new(
                &[section, "url"],
                "must be a postgres:// URL",
            ));
        }
        if url.parse::<sqlx::postgres::PgConnectOptions>().is_err() {
            return Err(ConfigError::new(
                &[section, "url"],
                "is not a valid Postgres URL",
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::new(
                &[section, "max_connections"],
                "must be at least 1",
            ));
        }
        if self.min_connections > self.max_connections {
            return Err(ConfigError::new(
                &[section, "min_connections"],
                "must not exceed max_connections",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        server: ServerSettings,
        database: DatabaseSettings,
        shutdown: ShutdownSettings,
        mail: MailSample,
    }

    /// Settings of each kind a value can be read as.
    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct MailSample {
        password: Option<Secret>,
        sender: String,
        verbose: bool,
        share: f64,
    }

    impl Default for Sample {
        fn default() -> Self {
            Self {
                server: ServerSettings::on_port(50051),
                database: DatabaseSettings::local("sample"),
                shutdown: ShutdownSettings::default(),
                mail: MailSample::default(),
            }
        }
    }

    impl Validate for Sample {
        fn validate(&self) -> Result<(), ConfigError> {
            self.database.validate("database")
        }
    }

    #[allow(clippy::result_large_err)] // figment's own error type, only in tests.
    /// Loads `Sample` with exactly `vars` set, through the production code path. `Jail`
    /// serialises tests that touch the process environment and restores it afterwards.
    fn load_with(vars: &[(&str, &str)]) -> Result<Sample, ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            for (key, value) in vars {
                jail.set_env(key, value);
            }
            result = Some(load::<Sample>());
            Ok(())
        });
        result.unwrap()
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let s = load_with(&[]).unwrap();
        assert_eq!(s.server.addr.port(), 50051);
        assert_eq!(s.database.max_connections, 10);
    }

    #[test]
    fn one_variable_overrides_one_key_and_keeps_its_siblings() {
        let s = load_with(&[("SHOP_DATABASE__MAX_CONNECTIONS", "3")]).unwrap();
        assert_eq!(s.database.max_connections, 3);
        assert_eq!(
            s.database.url.expose(),
            "postgres://postgres@127.0.0.1:5432/sample",
            "the service default for the sibling key must survive"
        );
    }

    #[test]
    fn a_string_setting_keeps_a_value_that_looks_like_a_number() {
        let s = load_with(&[
            ("SHOP_MAIL__PASSWORD", "0123456"),
            ("SHOP_MAIL__SENDER", "1.10"),
        ])
        .unwrap();
        assert_eq!(s.mail.password.unwrap().expose(), "0123456");
        assert_eq!(s.mail.sender, "1.10");
    }

    #[test]
    fn numbers_and_booleans_are_read_where_the_setting_is_one() {
        let s = load_with(&[("SHOP_MAIL__VERBOSE", "true"), ("SHOP_MAIL__SHARE", "0.25")]).unwrap();
        assert!(s.mail.verbose);
        assert!((s.mail.share - 0.25).abs() < f64::EPSILON);
        let err = load_with(&[("SHOP_MAIL__SHARE", "a quarter")]).unwrap_err();
        assert_eq!(err.key, "SHOP_MAIL__SHARE");
    }

    #[test]
    fn durations_are_human_readable() {
        let s = load_with(&[("SHOP_SHUTDOWN__DRAIN_TIMEOUT", "250ms")]).unwrap();
        assert_eq!(s.shutdown.drain_timeout, Duration::from_millis(250));
    }

    #[test]
    fn an_unparsable_value_names_the_variable() {
        let err = load_with(&[("SHOP_SERVER__ADDR", "nonsense")]).unwrap_err();
        assert_eq!(err.key, "SHOP_SERVER__ADDR");
        assert!(
            err.to_string()
                .starts_with("invalid configuration: SHOP_SERVER__ADDR: "),
            "{err}"
        );
        assert!(!err.to_string().contains('\n'), "one line: {err}");
    }

    #[test]
    fn a_validation_failure_names_the_variable() {
        let err = load_with(&[("SHOP_DATABASE__URL", "mysql://x")]).unwrap_err();
        assert_eq!(err.key, "SHOP_DATABASE__URL");
    }

    #[test]
    fn a_misspelt_key_inside_a_section_is_rejected() {
        let err = load_with(&[("SHOP_DATABASE__MAX_CONECTIONS", "3")]).unwrap_err();
        assert!(err.message.contains("max_conections"), "{err}");
    }

    #[test]
    fn a_misspelt_section_is_rejected() {
        let err = load_with(&[("SHOP_DATABSE__URL", "postgres://x/y")]).unwrap_err();
        assert!(err.message.contains("databse"), "{err}");
    }

    #[test]
    fn shop_variables_without_a_section_are_not_settings() {
        let s = load_with(&[
            ("SHOP_TEST_DATABASE_URL", "postgres://elsewhere/x"),
            ("SHOP_ADMIN_PASSWORD", "not a setting"),
        ])
        .unwrap();
        assert_eq!(s.server.addr.port(), 50051);
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let s = load_with(&[("SHOP_DATABASE__URL", "postgres://u:hunter2@db/x")]).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn redacted_json_hides_secrets_and_shows_the_rest() {
        let s = load_with(&[("SHOP_DATABASE__URL", "postgres://u:hunter2@db/x")]).unwrap();
        let shown = redacted_json(&s).unwrap();
        assert_eq!(shown["database"]["url"], "[redacted]");
        assert_eq!(shown["server"]["addr"], "0.0.0.0:50051");
        // Only the display is redacted: the value itself still serialises for figment.
        let plain = serde_json::to_value(&s).unwrap();
        assert_eq!(plain["database"]["url"], "postgres://u:hunter2@db/x");
    }
}
