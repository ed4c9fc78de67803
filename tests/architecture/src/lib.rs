//! Reading the workspace for the architecture tests: the dependency graph of `Cargo.lock`, the
//! crates a source file names, and the modules of a crate that use each other.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test support: fail loudly.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// The backends of the service table (`services.toml`): every service but the HTTP edge.
pub fn backends() -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Table {
        service: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        name: String,
        #[serde(default)]
        http: bool,
    }
    let table: Table =
        toml::from_str(&std::fs::read_to_string(root().join("services.toml")).unwrap()).unwrap();
    table
        .service
        .into_iter()
        .filter(|s| !s.http)
        .map(|s| s.name)
        .collect()
}

/// Every `.rs` file below `dir`.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Package name -> the names of the packages it depends on, from `Cargo.lock`.
pub fn lock_graph() -> BTreeMap<String, BTreeSet<String>> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let mut name = None;
        let mut dependencies = BTreeSet::new();
        let mut in_dependencies = false;
        for line in package.lines() {
            let line = line.trim();
            if let Some(value) = line.strip_prefix("name = ") {
                name = Some(value.trim_matches('"').to_owned());
            } else if line.starts_with("dependencies = [") {
                in_dependencies = true;
            } else if in_dependencies && line == "]" {
                in_dependencies = false;
            } else if in_dependencies {
                // `"tokio"` or `"hyper 1.6.0"` when two versions are locked.
                let dependency = line.trim_matches(|c| c == '"' || c == ',');
                let dependency = dependency.split(' ').next().unwrap_or(dependency);
                dependencies.insert(dependency.to_owned());
            }
        }
        graph
            .entry(name.expect("a package without a name in Cargo.lock"))
            .or_default()
            .extend(dependencies);
    }
    graph
}

/// `package` and every package it depends on, directly or not.
pub fn closure(graph: &BTreeMap<String, BTreeSet<String>>, package: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![package.to_owned()];
    while let Some(next) = todo.pop() {
        if seen.insert(next.clone()) {
            todo.extend(graph.get(&next).into_iter().flatten().cloned());
        }
    }
    seen
}

/// The identifiers a source file uses as a path root (`tokio` in `tokio::spawn`, `use
/// tokio::..`), comments left out.
pub fn path_roots(source: &str) -> BTreeSet<String> {
    let mut roots = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let bytes = code.as_bytes();
        let mut i = 0;
        while let Some(at) = code[i..].find("::") {
            let end = i + at;
            let start = code[..end]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |p| p + 1);
            // A root is not itself preceded by `::` (that would be a middle segment).
            let preceded = start >= 2 && &code[start - 2..start] == "::";
            if start < end && !preceded && bytes[start].is_ascii_lowercase() {
                roots.insert(code[start..end].to_owned());
            }
            i = end + 2;
        }
    }
    roots
}

/// The module path of a source file below `src`: `api/orders.rs` is `["api", "orders"]`,
/// `api/mod.rs` is `["api"]`, `lib.rs` is `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap();
    let mut path: Vec<String> = relative
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_owned()
        })
        .collect();
    if matches!(
        path.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        path.pop();
    }
    path
}

/// The module paths a file refers to: `crate::a::b` and `super::b` (resolved from `module`).
fn references(source: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (prefix, base) in [("crate::", Vec::new()), ("super::", parent(module))] {
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                // `super::super::x` and a `crate::` inside an identifier are not ours to read.
                let before = &rest[..at];
                let after = &rest[at + prefix.len()..];
                rest = after;
                if before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                let mut target = base.clone();
                for segment in after.split("::") {
                    let name: String = segment
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                        break;
                    }
                    target.push(name);
                    if !segment
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        break;
                    }
                }
                found.push(target);
            }
        }
    }
    found
}

fn parent(module: &[String]) -> Vec<String> {
    module[..module.len().saturating_sub(1)].to_vec()
}

/// For every module of a crate that has children (the crate root included), which of its
/// children use which siblings: `{"api": {"dashboard": {"orders"}}, "": {"api": {...}}}`.
pub fn module_uses(src: &Path) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut uses: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in rust_files(src) {
        let module = module_path(src, &file);
        let source = std::fs::read_to_string(&file).unwrap();
        for target in references(&source, &module) {
            // The deepest common ancestor decides which siblings these are.
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            let (Some(from), Some(to)) = (module.get(common), target.get(common)) else {
                continue;
            };
            uses.entry(module[..common].join("::"))
                .or_default()
                .entry(from.clone())
                .or_default()
                .insert(to.clone());
        }
    }
    uses
}

/// A cycle among the modules, if there is one, as the modules along it.
pub fn find_cycle(uses: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in uses.get(node).into_iter().flatten() {
            if uses.contains_key(next)
                && let Some(cycle) = visit(next, uses, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    for node in uses.keys() {
        if let Some(cycle) = visit(node, uses, &mut Vec::new(), &mut done) {
            return Some(cycle);
        }
    }
    None
}
