//! Where contract tests keep their pact files.
//!
//! Consumers write pacts into [`output_dir`]: `SHOP_PACT_DIR` when set (scripts/pacts.sh points
//! it at a fresh directory, then compares the result with the committed files), else
//! `target/pacts` in the workspace. Providers always verify the committed copies in
//! [`committed_dir`], so a provider is held to what the consumers agreed, not to whatever a
//! local run last produced.

use std::path::PathBuf;

/// Overrides where consumer tests write pact files.
pub const OUTPUT_DIR_ENV: &str = "SHOP_PACT_DIR";

fn workspace_root() -> PathBuf {
    // This crate lives in <workspace>/libs/testkit.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|err| panic!("cannot find the workspace root: {err}"))
}

/// The directory consumer tests write their pacts to.
pub fn output_dir() -> PathBuf {
    std::env::var_os(OUTPUT_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/pacts"))
}

/// `tests/pacts/` in the workspace: the pacts as agreed, committed.
pub fn committed_dir() -> PathBuf {
    workspace_root().join("tests/pacts")
}

/// A committed pact file, `<consumer>-<provider>.json`.
///
/// # Panics
/// When the file does not exist, with a message saying how to create it.
pub fn committed(consumer: &str, provider: &str) -> PathBuf {
    let path = committed_dir().join(format!("{consumer}-{provider}.json"));
    assert!(
        path.exists(),
        "{} is missing: run scripts/pacts.sh update to write the consumers' pacts",
        path.display()
    );
    path
}
