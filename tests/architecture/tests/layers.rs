//! The layering rules every service keeps, checked on the source and the lock file:
//! - domain code names no crate that depends, however indirectly, on a framework or an I/O
//!   library (tonic, axum, sqlx, lapin, redis, tokio), nor the service's app or adapters;
//! - the app layer never reaches into the adapters, and inbound adapters (gRPC, AMQP) call use
//!   cases, never another adapter (a store's function, a client);
//! - no crate's top-level modules use each other in a circle.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Fail loudly.

use std::collections::BTreeSet;

use shop_architecture_tests::{
    backends, closure, find_cycle, lock_graph, module_uses, path_roots, root, rust_files,
};

/// What domain code must not depend on, directly or through another crate.
const FORBIDDEN: [&str; 6] = ["tonic", "axum", "sqlx", "lapin", "redis", "tokio"];

#[test]
fn domain_code_depends_only_on_crates_free_of_frameworks_and_io() {
    let graph = lock_graph();
    let mut problems = Vec::new();
    for service in backends() {
        let package = format!("shop-{service}");
        let dependencies: BTreeSet<String> = graph[&package]
            .iter()
            .map(|name| name.replace('-', "_"))
            .collect();
        let domain = root().join("services").join(&service).join("src/domain");
        for file in rust_files(&domain) {
            let source = std::fs::read_to_string(&file).unwrap();
            let relative = file.strip_prefix(root()).unwrap().display().to_string();
            for name in path_roots(&source) {
                if name == "app" || name == "adapters" {
                    problems.push(format!("{relative}: names the service's {name} layer"));
                }
                if !dependencies.contains(&name) {
                    continue;
                }
                let reached = closure(&graph, &name.replace('_', "-"));
                let heavy: Vec<&str> = FORBIDDEN
                    .into_iter()
                    .filter(|f| reached.contains(*f))
                    .collect();
                if !heavy.is_empty() {
                    problems.push(format!("{relative}: uses {name}, which pulls in {heavy:?}"));
                }
            }
            if source.contains("crate::app") || source.contains("crate::adapters") {
                problems.push(format!("{relative}: uses the app or adapters layer"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_kernel_stays_free_of_frameworks_and_io() {
    let reached = closure(&lock_graph(), "shop-kernel");
    for forbidden in FORBIDDEN {
        assert!(
            !reached.contains(forbidden),
            "shop-kernel pulls in {forbidden}"
        );
    }
}

#[test]
fn the_app_layer_never_reaches_into_the_adapters() {
    let mut problems = Vec::new();
    for service in backends() {
        let app = root().join("services").join(&service).join("src/app");
        for file in rust_files(&app) {
            let source = std::fs::read_to_string(&file).unwrap();
            let relative = file.strip_prefix(root()).unwrap().display().to_string();
            if source.contains("crate::adapters") {
                problems.push(format!("{relative}: uses crate::adapters"));
            }
            // SQL lives in the store adapters (ADR 11), never in a use case.
            if path_roots(&source).contains("sqlx") {
                problems.push(format!("{relative}: uses sqlx"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn inbound_adapters_call_use_cases_never_other_adapters() {
    let mut problems = Vec::new();
    for service in backends() {
        let adapters = root().join("services").join(&service).join("src/adapters");
        for inbound in ["grpc.rs", "amqp.rs"] {
            let Ok(source) = std::fs::read_to_string(adapters.join(inbound)) else {
                continue;
            };
            for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
                if line.contains("super::") || line.contains("crate::adapters") {
                    problems.push(format!(
                        "services/{service}/src/adapters/{inbound}: {}",
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_crate_has_modules_that_use_each_other_in_a_circle() {
    let mut crates = Vec::new();
    for group in ["libs", "services", "tests"] {
        for entry in std::fs::read_dir(root().join(group)).unwrap() {
            let src = entry.unwrap().path().join("src");
            if src.is_dir() {
                crates.push(src);
            }
        }
    }
    let mut problems = Vec::new();
    for src in crates {
        for (parent, siblings) in module_uses(&src) {
            if let Some(cycle) = find_cycle(&siblings) {
                let relative = src.strip_prefix(root()).unwrap().display().to_string();
                problems.push(format!("{relative} ({parent:?}): {}", cycle.join(" -> ")));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checks_see_what_they_look_for() {
    // A circle and a heavy dependency are found when they are there.
    let mut uses = std::collections::BTreeMap::new();
    uses.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    uses.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert!(find_cycle(&uses).is_some());
    assert!(closure(&lock_graph(), "shop-auth").contains("tonic"));
    let gateway = module_uses(&root().join("services/gateway/src"));
    assert!(gateway[""]["api"].contains("adapters"), "{gateway:?}");
    assert!(gateway["api"]["orders"].contains("problem"), "{gateway:?}");
    let roots = path_roots("use shop_auth::Role; // tonic::x\nlet x = sqlx::query(\"\");");
    assert!(roots.contains("shop_auth") && roots.contains("sqlx") && !roots.contains("tonic"));
}
