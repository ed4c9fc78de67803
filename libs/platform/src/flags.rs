//! Runtime feature flags through OpenFeature, from a flag file in flagd's format that is
//! re-read while the service runs: a flag flipped in the file (a ConfigMap on Kubernetes, a
//! mounted file in compose) changes behaviour within a second or two, without a restart.
//! Without a file, every flag answers its default, and so does a flag the file does not define,
//! defines as DISABLED, or defines with another type: a flag can never stop a service.
//!
//! The services evaluate flags through the OpenFeature SDK's client; the provider is
//! [`FlagFileProvider`], which reads the subset of flagd's flag definitions the shop uses
//! (`state`, `variants`, `defaultVariant`; targeting rules are not evaluated). ADR 18 says why
//! it is not flagd's own provider. The shop's flags are listed in `docs/flags.md`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use open_feature::provider::{FeatureProvider, ProviderMetadata, ResolutionDetails};
use open_feature::{
    Client, EvaluationContext, EvaluationError, EvaluationErrorCode, EvaluationReason,
    EvaluationResult, OpenFeature, StructValue,
};
use serde::{Deserialize, Serialize};

/// The `flags` settings section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagSettings {
    /// A flag definition file in flagd's JSON format. None: every flag has its default.
    pub file: Option<String>,
    /// How often the file is read again for changes.
    #[serde(with = "humantime_serde")]
    pub reload_interval: Duration,
}

impl Default for FlagSettings {
    fn default() -> Self {
        Self {
            file: None,
            reload_interval: Duration::from_secs(1),
        }
    }
}

/// The flags a service evaluates. Cheap to clone.
#[derive(Clone, Default)]
pub struct Flags {
    client: Option<Arc<Client>>,
    /// The file's definitions as last read, for [`Flags::listing`].
    definitions: Option<Arc<RwLock<FlagFile>>>,
}

/// One flag of the file as it stands: what the back office shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlagView {
    pub key: String,
    /// `false`: the flag is DISABLED and every service uses its default.
    pub enabled: bool,
    /// The variant in force (`defaultVariant`), and its value.
    pub variant: String,
    pub value: serde_json::Value,
    /// Every variant the file defines, by value (the smallest number, `false`, first).
    pub variants: Vec<(String, serde_json::Value)>,
    /// The flag's `metadata.description`, if the file gives one.
    pub description: Option<String>,
}

impl std::fmt::Debug for Flags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flags")
            .field("from_file", &self.client.is_some())
            .finish()
    }
}

impl Flags {
    /// Flags from the settings' file, or defaults when there is none. A file that is missing
    /// or does not parse stops the service at start, naming it; later, a bad edit is logged
    /// and the last good definitions stay in force.
    pub async fn from_settings(settings: &FlagSettings) -> anyhow::Result<Self> {
        let Some(file) = &settings.file else {
            return Ok(Self::default());
        };
        let provider = FlagFileProvider::watch(Path::new(file), settings.reload_interval)
            .map_err(|err| anyhow::anyhow!("flags.file {file}: {err}"))?;
        // A provider of its own per instance: tests run several services in one process, and
        // OpenFeature's registry is global.
        static INSTANCES: AtomicU64 = AtomicU64::new(0);
        let name = format!("shop-flags-{}", INSTANCES.fetch_add(1, Ordering::Relaxed));
        let definitions = provider.definitions.clone();
        let mut api = OpenFeature::singleton_mut().await;
        api.set_named_provider(&name, provider).await;
        Ok(Self {
            client: Some(Arc::new(api.create_named_client(&name))),
            definitions: Some(definitions),
        })
    }

    /// Whether the flags come from a file (or are all defaults).
    pub fn from_file(&self) -> bool {
        self.definitions.is_some()
    }

    /// Every flag of the file as last read, by key; empty without a file.
    pub fn listing(&self) -> Vec<FlagView> {
        let Some(definitions) = &self.definitions else {
            return Vec::new();
        };
        let file = definitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut flags: Vec<FlagView> = file
            .flags
            .iter()
            .map(|(key, flag)| FlagView {
                key: key.clone(),
                enabled: flag.state == FlagState::Enabled,
                variant: flag.default_variant.clone(),
                value: flag
                    .variants
                    .get(&flag.default_variant)
                    .cloned()
                    .unwrap_or_default(),
                variants: by_value(&flag.variants),
                description: flag
                    .metadata
                    .get("description")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned),
            })
            .collect();
        flags.sort_by(|a, b| a.key.cmp(&b.key));
        flags
    }

    /// Whether something the float flag `key` gives a rate to (0: never, 1: always) happens
    /// this time; never without the flag.
    pub async fn happens(&self, key: &str) -> bool {
        let rate = self.float(key, 0.0).await;
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        let mut bytes = [0u8; 8];
        if getrandom::fill(&mut bytes).is_err() {
            return false;
        }
        #[allow(clippy::cast_precision_loss)] // A roll; 53 bits of it are plenty.
        let roll = u64::from_le_bytes(bytes) as f64 / u64::MAX as f64;
        roll < rate
    }

    pub async fn float(&self, key: &str, default: f64) -> f64 {
        match &self.client {
            Some(client) => client
                .get_float_value(key, None, None)
                .await
                .unwrap_or(default),
            None => default,
        }
    }

    pub async fn int(&self, key: &str, default: i64) -> i64 {
        match &self.client {
            Some(client) => client
                .get_int_value(key, None, None)
                .await
                .unwrap_or(default),
            None => default,
        }
    }

    pub async fn bool(&self, key: &str, default: bool) -> bool {
        match &self.client {
            Some(client) => client
                .get_bool_value(key, None, None)
                .await
                .unwrap_or(default),
            None => default,
        }
    }
}

/// A flag's variants, smallest value first (numbers by size, `false` before `true`, strings by
/// name), so a list reads from "off" upwards.
fn by_value(variants: &HashMap<String, serde_json::Value>) -> Vec<(String, serde_json::Value)> {
    let mut sorted: Vec<(String, serde_json::Value)> = variants
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let key = |value: &serde_json::Value| match value {
        serde_json::Value::Bool(b) => f64::from(u8::from(*b)),
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(f64::MAX),
        _ => f64::MAX,
    };
    sorted.sort_by(|(a_name, a), (b_name, b)| {
        key(a).total_cmp(&key(b)).then_with(|| a_name.cmp(b_name))
    });
    sorted
}

/// flagd's flag definition file, the part the shop uses.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
struct FlagFile {
    #[serde(default)]
    flags: HashMap<String, FlagDefinition>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlagDefinition {
    state: FlagState,
    variants: HashMap<String, serde_json::Value>,
    default_variant: String,
    /// flagd's free-form flag metadata; the shop reads `description`.
    #[serde(default)]
    metadata: HashMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum FlagState {
    Enabled,
    Disabled,
}

impl FlagFile {
    fn parse(text: &str) -> Result<Self, String> {
        let file: Self = serde_json::from_str(text).map_err(|err| err.to_string())?;
        for (key, flag) in &file.flags {
            if !flag.variants.contains_key(&flag.default_variant) {
                return Err(format!(
                    "flag {key}: defaultVariant {} is not one of its variants",
                    flag.default_variant
                ));
            }
        }
        Ok(file)
    }

    /// The flag's value now, as JSON, with its variant.
    fn resolve(&self, key: &str) -> EvaluationResult<(&str, &serde_json::Value)> {
        let flag = self.flags.get(key).ok_or_else(|| EvaluationError {
            code: EvaluationErrorCode::FlagNotFound,
            message: Some(format!("no flag {key} in the flag file")),
        })?;
        if flag.state == FlagState::Disabled {
            return Err(EvaluationError {
                code: EvaluationErrorCode::FlagNotFound,
                message: Some(format!("flag {key} is disabled")),
            });
        }
        flag.variants
            .get(&flag.default_variant)
            .map(|value| (flag.default_variant.as_str(), value))
            .ok_or_else(|| EvaluationError {
                code: EvaluationErrorCode::ParseError,
                message: Some(format!(
                    "flag {key} has no variant {}",
                    flag.default_variant
                )),
            })
    }
}

/// An OpenFeature provider over a flag file, read again every `reload_interval` for as long as
/// the provider lives.
#[derive(Debug)]
pub struct FlagFileProvider {
    metadata: ProviderMetadata,
    definitions: Arc<RwLock<FlagFile>>,
}

impl FlagFileProvider {
    /// Reads `path` now (an error if it cannot be read or parsed) and again every `every`.
    pub fn watch(path: &Path, every: Duration) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|err| err.to_string())?;
        let definitions = Arc::new(RwLock::new(FlagFile::parse(&text)?));
        tokio::spawn(reload(
            path.to_owned(),
            every,
            text,
            Arc::downgrade(&definitions),
        ));
        Ok(Self {
            metadata: ProviderMetadata::new("shop-flag-file"),
            definitions,
        })
    }

    fn resolve<T>(
        &self,
        key: &str,
        read: impl FnOnce(&serde_json::Value) -> Option<T>,
    ) -> EvaluationResult<ResolutionDetails<T>> {
        let definitions = self
            .definitions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (variant, value) = definitions.resolve(key)?;
        let value = read(value).ok_or_else(|| EvaluationError {
            code: EvaluationErrorCode::TypeMismatch,
            message: Some(format!("flag {key}'s variant {variant} is {value}")),
        })?;
        Ok(ResolutionDetails {
            value,
            variant: Some(variant.to_owned()),
            reason: Some(EvaluationReason::Static),
            flag_metadata: None,
        })
    }
}

/// Re-reads the file whenever its text changed; stops when the provider is gone. Whole-file
/// replacement (an editor's save, a ConfigMap's symlink swap) is what it sees.
async fn reload(path: PathBuf, every: Duration, mut last: String, into: Weak<RwLock<FlagFile>>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(definitions) = into.upgrade() else {
            return;
        };
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(text) if text != last => text,
            Ok(_) => continue,
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "cannot read the flag file; keeping the flags as they were");
                continue;
            }
        };
        match FlagFile::parse(&text) {
            Ok(parsed) => {
                *definitions
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = parsed;
                tracing::info!(path = %path.display(), "flags reloaded");
            }
            Err(err) => {
                tracing::warn!(path = %path.display(), %err, "the flag file does not parse; keeping the flags as they were");
            }
        }
        last = text;
    }
}

#[open_feature::async_trait]
impl FeatureProvider for FlagFileProvider {
    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        self.resolve(key, serde_json::Value::as_bool)
    }

    async fn resolve_int_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<i64>> {
        self.resolve(key, serde_json::Value::as_i64)
    }

    async fn resolve_float_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        self.resolve(key, serde_json::Value::as_f64)
    }

    async fn resolve_string_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        self.resolve(key, |value| value.as_str().map(str::to_owned))
    }

    async fn resolve_struct_value(
        &self,
        key: &str,
        _: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        Err(EvaluationError {
            code: EvaluationErrorCode::TypeMismatch,
            message: Some(format!("flag {key}: object flags are not supported")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "flags": {
            "rate": { "state": "ENABLED", "variants": { "off": 0.0, "half": 0.5 }, "defaultVariant": "half" },
            "delay": { "state": "ENABLED", "variants": { "off": 0, "slow": 1500 }, "defaultVariant": "slow" },
            "gone": { "state": "DISABLED", "variants": { "on": true }, "defaultVariant": "on" }
        }
    }"#;

    fn provider(text: &str) -> FlagFileProvider {
        FlagFileProvider {
            metadata: ProviderMetadata::new("test"),
            definitions: Arc::new(RwLock::new(FlagFile::parse(text).unwrap())),
        }
    }

    #[tokio::test]
    async fn a_flag_answers_its_default_variant_and_anything_wrong_is_an_error_not_a_value() {
        let flags = provider(FILE);
        let context = EvaluationContext::default();
        let rate = flags.resolve_float_value("rate", &context).await.unwrap();
        assert_eq!((rate.value, rate.variant.as_deref()), (0.5, Some("half")));
        assert_eq!(
            flags
                .resolve_int_value("delay", &context)
                .await
                .unwrap()
                .value,
            1500
        );
        // An integer variant reads as a float too; a float does not read as an integer.
        assert_eq!(
            flags
                .resolve_float_value("delay", &context)
                .await
                .unwrap()
                .value,
            1500.0
        );
        let mismatch = flags.resolve_int_value("rate", &context).await.unwrap_err();
        assert_eq!(mismatch.code, EvaluationErrorCode::TypeMismatch);
        for key in ["gone", "never-defined"] {
            let missing = flags.resolve_bool_value(key, &context).await.unwrap_err();
            assert_eq!(missing.code, EvaluationErrorCode::FlagNotFound, "{key}");
        }
    }

    #[tokio::test]
    async fn the_listing_shows_every_flag_by_key_with_its_variants_smallest_first() {
        let dir = std::env::temp_dir().join(format!("shop-flag-list-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flags.json");
        std::fs::write(&path, FILE).unwrap();
        let flags = Flags::from_settings(&FlagSettings {
            file: Some(path.to_string_lossy().into_owned()),
            reload_interval: Duration::from_secs(60),
        })
        .await
        .unwrap();
        let listing = flags.listing();
        let keys: Vec<&str> = listing.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["delay", "gone", "rate"]);
        let rate = &listing[2];
        assert_eq!(
            (rate.variant.as_str(), &rate.value),
            ("half", &serde_json::json!(0.5))
        );
        let names: Vec<&str> = rate.variants.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["off", "half"]);
        assert!(!listing[1].enabled, "gone is disabled");
        assert!(Flags::default().listing().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_default_variant_that_is_not_a_variant_is_refused() {
        let err = FlagFile::parse(
            r#"{"flags": {"x": {"state": "ENABLED", "variants": {"on": true}, "defaultVariant": "off"}}}"#,
        )
        .unwrap_err();
        assert!(err.contains("defaultVariant off"), "{err}");
        assert!(FlagFile::parse("{ not json").is_err());
    }

    #[tokio::test]
    async fn a_changed_file_is_read_again_and_a_broken_one_keeps_the_last_flags() {
        let dir = std::env::temp_dir().join(format!("shop-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("flags.json");
        std::fs::write(&path, FILE).unwrap();
        let flags = Flags::from_settings(&FlagSettings {
            file: Some(path.to_string_lossy().into_owned()),
            reload_interval: Duration::from_millis(20),
        })
        .await
        .unwrap();
        assert_eq!(flags.float("rate", 9.0).await, 0.5);
        assert!(flags.bool("gone", true).await, "disabled: the default");
        std::fs::write(
            &path,
            FILE.replace(r#""defaultVariant": "half""#, r#""defaultVariant": "off""#),
        )
        .unwrap();
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while flags.float("rate", 9.0).await != 0.0 {
            assert!(
                std::time::Instant::now() < until,
                "the change was never read"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        std::fs::write(&path, "{ half a file").unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            flags.float("rate", 9.0).await,
            0.0,
            "the last good flags stay"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
