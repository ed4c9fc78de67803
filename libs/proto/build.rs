//! Compiles every contract under `proto/` with protox (pure Rust, so no `protoc`
//! is needed on any machine) and hands the descriptors to tonic's code
//! generator. The encoded descriptor set is written to OUT_DIR so servers can
//! offer reflection, and so is the module tree of the packages (`packages.rs`):
//! a new contract needs no change here or in `lib.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prost::Message;

/// Every `.proto` below `dir`, relative to `root`, in a stable order.
fn protos(root: &Path, dir: &Path, found: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            protos(root, &path, found)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            found.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
    found.sort();
    Ok(())
}

/// A module tree for `packages` (`shop.order.v1`, ...), each leaf including its generated code.
#[derive(Default)]
struct Tree(BTreeMap<String, Tree>);

impl Tree {
    fn insert(&mut self, path: &[&str]) {
        if let Some((first, rest)) = path.split_first() {
            self.0.entry((*first).to_owned()).or_default().insert(rest);
        }
    }

    fn render(&self, prefix: &str, out: &mut String) {
        for (name, child) in &self.0 {
            let package = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            out.push_str(&format!("pub mod {name} {{\n"));
            if child.0.is_empty() {
                out.push_str(&format!("tonic::include_proto!(\"{package}\");\n"));
            }
            child.render(&package, out);
            out.push_str("}\n");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut files = Vec::new();
    protos(&proto_root, &proto_root, &mut files)?;
    let descriptors = protox::compile(&files, [&proto_root])?;
    let mut tree = Tree::default();
    for file in &descriptors.file {
        let package = file.package();
        tree.insert(&package.split('.').collect::<Vec<_>>());
    }
    let mut modules = String::new();
    // The crate re-exports the contexts under `shop` (`shop_proto::order::v1`).
    tree.0
        .get("shop")
        .ok_or("no contract is in the `shop` package")?
        .render("shop", &mut modules);
    std::fs::write(out_dir.join("packages.rs"), modules)?;
    std::fs::write(
        out_dir.join("shop_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;

    tonic_prost_build::configure()
        .emit_rerun_if_changed(false)
        .compile_fds(descriptors)?;

    // protox does not announce its inputs; rerun when any contract changes.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    Ok(())
}
