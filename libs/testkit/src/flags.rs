//! A runtime flag file for a test: a private copy of the shop's own `infra/flags/flags.json`
//! (the file compose mounts), whose flags the test sets to one of their variants while services
//! read it. Removed when dropped.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// A flag file of one test.
#[derive(Debug)]
pub struct FlagFile {
    path: PathBuf,
}

impl FlagFile {
    /// A copy of the shop's flag file, every flag as the repository sets it (faults off).
    ///
    /// # Panics
    /// When the repository's file cannot be copied.
    #[allow(clippy::expect_used)] // A test that cannot get its flag file must fail loudly.
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("{}.json", crate::unique_name("flags")));
        std::fs::copy(Self::shop_file(), &path).expect("copying infra/flags/flags.json");
        Self { path }
    }

    /// The repository's flag file, the one compose mounts.
    pub fn shop_file() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/flags/flags.json")
    }

    /// Where it is: the value of a service's `flags.file`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// [`FlagFile::path`] as a setting's value.
    pub fn setting(&self) -> Option<String> {
        Some(self.path.display().to_string())
    }

    /// Sets each `(flag, variant)`: the flag's `defaultVariant` becomes `variant`, which must be
    /// one of the flag's variants.
    ///
    /// # Errors
    /// When the file cannot be read or written, or names no such flag or variant.
    pub fn set(&self, variants: &[(&str, &str)]) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(&self.path)?;
        let mut file: serde_json::Value = serde_json::from_str(&text)?;
        for (flag, variant) in variants {
            let entry = file["flags"]
                .get_mut(*flag)
                .with_context(|| format!("no flag {flag} in {}", self.path.display()))?;
            if entry["variants"].get(*variant).is_none() {
                bail!("flag {flag} has no variant {variant}");
            }
            entry["defaultVariant"] = serde_json::Value::from(*variant);
        }
        // Written whole and renamed into place, as a ConfigMap update or an editor's save is,
        // so a reader never sees half a file.
        let partial = self.path.with_extension("partial");
        std::fs::write(&partial, serde_json::to_vec_pretty(&file)?)?;
        std::fs::rename(&partial, &self.path)?;
        Ok(())
    }
}

impl Default for FlagFile {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlagFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
