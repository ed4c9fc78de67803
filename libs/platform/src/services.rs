//! The shop's service table (`services.toml` at the repository's root), compiled in: each
//! service's name and ports, for the local defaults of every binary.

use std::sync::LazyLock;

use serde::Deserialize;

use crate::config::{AdminSettings, ServerSettings};

/// One service of the shop.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEntry {
    pub name: String,
    /// Serves HTTP (the gateway) rather than gRPC.
    #[serde(default)]
    pub http: bool,
    /// Where it serves its clients.
    pub public: u16,
    /// Where it serves /healthz, /readyz and /metrics.
    pub admin: u16,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    service: Vec<ServiceEntry>,
}

/// The table as written.
pub const TABLE: &str = include_str!("../../../services.toml");

static SERVICES: LazyLock<Vec<ServiceEntry>> = LazyLock::new(|| {
    // Compiled in and checked by this module's tests: it parses, or no binary was built.
    #[allow(clippy::expect_used)]
    let table: Table = toml::from_str(TABLE).expect("services.toml parses");
    table.service
});

/// Every service, in start order.
pub fn all() -> &'static [ServiceEntry] {
    &SERVICES
}

/// The service called `name`.
///
/// # Panics
/// When the table has no such service: a typo in a compiled-in name, which every test run
/// catches at once.
#[allow(clippy::panic)]
pub fn service(name: &str) -> &'static ServiceEntry {
    all()
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("services.toml has no service named {name:?}"))
}

/// Where `name` serves its clients by default (all interfaces, its public port).
pub fn public_settings(name: &str) -> ServerSettings {
    ServerSettings::on_port(service(name).public)
}

/// Where `name` serves its admin endpoints by default.
pub fn admin_settings(name: &str) -> AdminSettings {
    AdminSettings::on_port(service(name).admin)
}

/// How a peer reaches `name` on this machine: `http://127.0.0.1:<public port>`.
pub fn local_url(name: &str) -> String {
    format!("http://127.0.0.1:{}", service(name).public)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_names_and_ports_are_unique() {
        let services = all();
        assert!(!services.is_empty());
        let mut names: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), services.len(), "duplicate names");
        let mut ports: Vec<u16> = services.iter().flat_map(|s| [s.public, s.admin]).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 2 * services.len(), "a port is used twice");
        assert_eq!(
            services.iter().filter(|s| s.http).count(),
            1,
            "one HTTP edge"
        );
    }

    #[test]
    fn defaults_come_from_the_table() {
        assert_eq!(local_url("order"), "http://127.0.0.1:50053");
        assert_eq!(admin_settings("order").addr.port(), 9083);
    }
}
