//! Test logging: silent by default, readable with `TEST_LOG=1` (or `TEST_LOG=debug,...`).

use std::sync::Once;

use tracing_subscriber::EnvFilter;

/// Prepares the process for a test: installs the TLS crypto provider (two are linked in test
/// builds, and rustls refuses to pick) and, when `TEST_LOG` is set, a log subscriber writing
/// through the test harness so output stays with its test. Call it at the top of every test
/// that starts real components; repeated calls are free.
pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Ok(value) = std::env::var("TEST_LOG") {
            let filter = if value.is_empty() || value == "1" || value == "true" {
                EnvFilter::new("info,sqlx=warn,lapin=warn")
            } else {
                EnvFilter::new(value)
            };
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}
