//! The settings of a backend: the sections all of them have, and the service's own.
//!
//! `BackendSettings<Own>` reads as one flat struct, so a service's environment variables stay
//! `SHOP_<SECTION>__<KEY>` whether the section is common (`SHOP_DATABASE__URL`) or its own
//! (`SHOP_SAGA__DEADLINE`), and a misspelt section is still refused by name.
//!
//! serde's `flatten` would say the same in one attribute, but it buffers every value before the
//! fields see them, which loses what the configuration layer knows about types: an environment
//! value that looks like a number no longer reads as a string, and unknown keys can no longer be
//! refused. So [`Deserialize`] is written out: the common sections are read as they come, and
//! the service's own struct reads the rest straight from the same map.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use shop_auth::AuthSettings;
use shop_messaging::AmqpSettings;
use shop_platform::config::{
    AdminSettings, ConfigError, DatabaseSettings, LogSettings, ServerSettings, ServiceSettings,
    ShutdownSettings, Validate,
};
use shop_platform::flags::FlagSettings;
use shop_platform::grpc_client::validate_uri;
use shop_platform::redis::RedisSettings;
use shop_platform::services;

/// The sections only one service has: the struct its `config.rs` declares.
///
/// It must be a struct with named fields (one per section), and should refuse unknown fields
/// (`#[serde(deny_unknown_fields)]`): every key that is not a common section reaches it.
pub trait OwnSettings:
    Default + Serialize + DeserializeOwned + Validate + fmt::Debug + Clone + Send + Sync + 'static
{
    /// The service's name in `services.toml` (`"inventory"`): its default ports, and the
    /// source its events are published under.
    const SERVICE: &'static str;
    /// The Postgres database it owns, on the local server by default.
    const DATABASE: &'static str;
}

/// Everything a backend reads at startup: the sections every backend has, and its own (reached
/// through `Deref`, so `settings.saga` reads like `settings.database`).
#[derive(Debug, Clone, Serialize)]
pub struct BackendSettings<Own> {
    /// Where the gRPC server listens.
    pub grpc: ServerSettings,
    /// Where `/healthz`, `/readyz` and `/metrics` answer.
    pub admin: AdminSettings,
    pub shutdown: ShutdownSettings,
    pub log: LogSettings,
    /// The database the service owns.
    pub database: DatabaseSettings,
    /// The broker its outbox publishes to and its consumers read from.
    pub amqp: AmqpSettings,
    /// The session denylist every service checks people's tokens against (and whatever else
    /// the service keeps in Redis).
    pub redis: RedisSettings,
    /// How tokens are verified.
    pub auth: AuthSettings,
    /// The runtime flag file (docs/flags.md): the service's own flags, and the messaging
    /// faults (`event-drop-rate`, `consumer-delay-ms`) every backend's outbox and consumers read.
    pub flags: FlagSettings,
    /// The service's own sections.
    #[serde(flatten)]
    pub own: Own,
}

impl<Own: OwnSettings> Default for BackendSettings<Own> {
    fn default() -> Self {
        Self {
            grpc: services::public_settings(Own::SERVICE),
            admin: services::admin_settings(Own::SERVICE),
            shutdown: ShutdownSettings::default(),
            log: LogSettings::default(),
            database: DatabaseSettings::local(Own::DATABASE),
            amqp: AmqpSettings::default(),
            redis: RedisSettings::default(),
            auth: AuthSettings::default(),
            flags: FlagSettings::default(),
            own: Own::default(),
        }
    }
}

impl<Own: OwnSettings> BackendSettings<Own> {
    /// The service's name in `services.toml`.
    pub fn service(&self) -> &'static str {
        Own::SERVICE
    }
}

impl<Own: Validate> Validate for BackendSettings<Own> {
    fn validate(&self) -> Result<(), ConfigError> {
        self.database.validate("database")?;
        self.amqp.validate("amqp")?;
        self.redis.validate("redis")?;
        self.auth.validate("auth")?;
        self.own.validate()
    }
}

impl<Own: OwnSettings> ServiceSettings for BackendSettings<Own> {
    fn log(&self) -> &LogSettings {
        &self.log
    }

    fn admin(&self) -> &AdminSettings {
        &self.admin
    }

    fn database(&self) -> Option<&DatabaseSettings> {
        Some(&self.database)
    }
}

impl<Own> Deref for BackendSettings<Own> {
    type Target = Own;

    fn deref(&self) -> &Own {
        &self.own
    }
}

impl<Own> DerefMut for BackendSettings<Own> {
    fn deref_mut(&mut self) -> &mut Own {
        &mut self.own
    }
}

impl<'de, Own: Deserialize<'de>> Deserialize<'de> for BackendSettings<Own> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(SettingsVisitor(PhantomData))
    }
}

struct SettingsVisitor<Own>(PhantomData<Own>);

impl<'de, Own: Deserialize<'de>> Visitor<'de> for SettingsVisitor<Own> {
    type Value = BackendSettings<Own>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a backend service's settings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut common = Common::default();
        let own = Own::deserialize(OwnSections {
            map: &mut map,
            common: &mut common,
        })?;
        // The service's struct read the map to its end, handing each common section over on
        // the way: all of them are here now.
        Ok(BackendSettings {
            grpc: required(common.grpc, "grpc")?,
            admin: required(common.admin, "admin")?,
            shutdown: required(common.shutdown, "shutdown")?,
            log: required(common.log, "log")?,
            database: required(common.database, "database")?,
            amqp: required(common.amqp, "amqp")?,
            redis: required(common.redis, "redis")?,
            auth: required(common.auth, "auth")?,
            flags: required(common.flags, "flags")?,
            own,
        })
    }
}

fn required<T, E: de::Error>(section: Option<T>, name: &'static str) -> Result<T, E> {
    section.ok_or_else(|| E::missing_field(name))
}

/// The common sections as they are read.
#[derive(Default)]
struct Common {
    grpc: Option<ServerSettings>,
    admin: Option<AdminSettings>,
    shutdown: Option<ShutdownSettings>,
    log: Option<LogSettings>,
    database: Option<DatabaseSettings>,
    amqp: Option<AmqpSettings>,
    redis: Option<RedisSettings>,
    auth: Option<AuthSettings>,
    flags: Option<FlagSettings>,
}

impl Common {
    /// Reads the value of `key` if it is a common section; `false` if it is not.
    fn take<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        match key {
            "grpc" => self.grpc = Some(map.next_value()?),
            "admin" => self.admin = Some(map.next_value()?),
            "shutdown" => self.shutdown = Some(map.next_value()?),
            "log" => self.log = Some(map.next_value()?),
            "database" => self.database = Some(map.next_value()?),
            "amqp" => self.amqp = Some(map.next_value()?),
            "redis" => self.redis = Some(map.next_value()?),
            "auth" => self.auth = Some(map.next_value()?),
            "flags" => self.flags = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The settings map as the service's own struct sees it: every key but the common sections,
/// which are read into [`Common`] as they pass.
struct OwnSections<'a, A> {
    map: &'a mut A,
    common: &'a mut Common,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for OwnSections<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for OwnSections<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.map.next_key::<String>()? {
            if !self.common.take(&key, self.map)? {
                let key: de::value::StringDeserializer<A::Error> = key.into_deserializer();
                return seed.deserialize(key).map(Some);
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }
}

/// Where the user service is, for backends that call no other peer: the keys that verify
/// tokens come from there.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpstream {
    /// The user service's gRPC URL.
    pub user: String,
}

impl Default for UserUpstream {
    fn default() -> Self {
        Self {
            user: services::local_url("user"),
        }
    }
}

impl UserUpstream {
    /// Checks the section; `section` is its name in the service's settings.
    pub fn validate(&self, section: &str) -> Result<(), ConfigError> {
        validate_uri(&self.user, &[section, "user"])
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        cache: CacheSection,
        labels: LabelSection,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct CacheSection {
        #[serde(with = "humantime_serde")]
        ttl: Duration,
        size: u32,
    }

    #[derive(Debug, Clone, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct LabelSection {
        name: String,
    }

    impl Default for Sample {
        fn default() -> Self {
            Self {
                cache: CacheSection {
                    ttl: Duration::from_secs(60),
                    size: 100,
                },
                labels: LabelSection {
                    name: "shop".to_owned(),
                },
            }
        }
    }

    impl Validate for Sample {
        fn validate(&self) -> Result<(), ConfigError> {
            if self.cache.size == 0 {
                return Err(ConfigError::new(&["cache", "size"], "must be at least 1"));
            }
            Ok(())
        }
    }

    impl OwnSettings for Sample {
        const SERVICE: &'static str = "inventory";
        const DATABASE: &'static str = "sample";
    }

    /// Loads the settings the way `shop_platform::config::load` does, from `vars` only.
    /// `Jail` serialises tests that touch the process environment and restores it afterwards.
    #[allow(clippy::result_large_err)] // figment's own error type, only in tests.
    fn load(vars: &[(&str, &str)]) -> Result<BackendSettings<Sample>, ConfigError> {
        let mut result = None;
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            for (name, value) in vars {
                jail.set_env(name, value);
            }
            result = Some(shop_platform::config::load::<BackendSettings<Sample>>());
            Ok(())
        });
        result.unwrap_or_else(|| unreachable!("the jail ran"))
    }

    #[test]
    fn without_configuration_the_defaults_are_the_services_local_ones() {
        let settings = load(&[]).unwrap();
        assert_eq!(
            settings.grpc.addr.port(),
            services::service("inventory").public
        );
        assert_eq!(
            settings.admin.addr.port(),
            services::service("inventory").admin
        );
        assert!(settings.database.url.expose().ends_with("/sample"));
        assert_eq!(settings.cache.ttl, Duration::from_secs(60));
        assert_eq!(
            ServiceSettings::database(&settings).map(|db| db.url.expose()),
            Some(settings.database.url.expose())
        );
    }

    #[test]
    fn common_and_own_sections_are_set_the_same_way() {
        let settings = load(&[
            ("SHOP_DATABASE__MAX_CONNECTIONS", "3"),
            ("SHOP_REDIS__KEY_PREFIX", "eu:"),
            ("SHOP_CACHE__TTL", "5s"),
            ("SHOP_CACHE__SIZE", "7"),
            ("SHOP_LABELS__NAME", "eu"),
        ])
        .unwrap();
        assert_eq!(settings.database.max_connections, 3);
        assert_eq!(settings.redis.key_prefix, "eu:");
        assert_eq!(settings.cache.ttl, Duration::from_secs(5));
        assert_eq!(settings.cache.size, 7);
        assert_eq!(settings.labels.name, "eu");
        assert_eq!(settings.own.labels.name, "eu");
    }

    #[test]
    fn a_misspelt_section_or_key_is_refused_by_name() {
        let err = load(&[("SHOP_CAHCE__TTL", "5s")]).unwrap_err();
        assert!(err.message.contains("cahce"), "{err}");
        let err = load(&[("SHOP_CACHE__TLL", "5s")]).unwrap_err();
        assert!(err.message.contains("tll"), "{err}");
        let err = load(&[("SHOP_DATABASE__MAX_CONECTIONS", "3")]).unwrap_err();
        assert!(err.message.contains("max_conections"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_variable() {
        let err = load(&[("SHOP_CACHE__SIZE", "many")]).unwrap_err();
        assert_eq!(err.key, "SHOP_CACHE__SIZE", "{err}");
        let err = load(&[("SHOP_DATABASE__MAX_CONNECTIONS", "many")]).unwrap_err();
        assert_eq!(err.key, "SHOP_DATABASE__MAX_CONNECTIONS", "{err}");
    }

    #[test]
    fn common_sections_are_checked_before_the_services_own() {
        let err = load(&[("SHOP_DATABASE__URL", "mysql://localhost/shop")]).unwrap_err();
        assert_eq!(err.key, "SHOP_DATABASE__URL");
        let err = load(&[("SHOP_CACHE__SIZE", "0")]).unwrap_err();
        assert_eq!(err.key, "SHOP_CACHE__SIZE");
    }
}
