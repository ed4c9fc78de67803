//! `cargo xtask rename <name>`: the project under a name of your own, for people who clone it
//! as a template. With `acme-store`:
//!
//! | before | after |
//! |---|---|
//! | Ferris Shop, ferris-shop (docs, images, namespace) | Acme Store, acme-store |
//! | shop-order, shop_platform (crates, binaries) | store-order, store_platform |
//! | SHOP_DATABASE__URL (settings) | STORE_DATABASE__URL |
//! | shop.order.v1 (protobuf packages, gRPC paths) | store.order.v1 |
//!
//! Every file git knows (tracked, or new and not ignored) is rewritten, and renamed when its
//! path holds a crate name. `Cargo.lock` follows on the next build. "shop" as an English word
//! stays as it is.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, ensure};

/// One replacement: `from` becomes `to` where it starts a word and what follows passes `when`.
struct Replacement {
    from: String,
    to: String,
    when: fn(&str) -> bool,
}

fn always(_: &str) -> bool {
    true
}

/// `order.v1...` or `events`: a protobuf package or the exchange after `shop.`, not a file
/// extension (`shop.rs`).
fn package_or_exchange(after: &str) -> bool {
    let word: String = after
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        .collect();
    let rest = &after[word.len()..];
    word == "events"
        || (!word.is_empty()
            && rest.starts_with(".v")
            && rest[2..].starts_with(|c: char| c.is_ascii_digit()))
}

/// Rewrites `text` with every replacement, in order.
fn rewrite(text: &str, replacements: &[Replacement]) -> String {
    let mut text = text.to_owned();
    for replacement in replacements {
        text = replace_at_word_start(&text, replacement);
    }
    text
}

/// Applies `r` where its `from` does not continue a word (the character before it is not a
/// letter, digit or underscore) and what follows passes `r.when`.
fn replace_at_word_start(text: &str, r: &Replacement) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&r.from) {
        let continues_word = rest[..at]
            .chars()
            .next_back()
            .or_else(|| out.chars().next_back())
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let after = &rest[at + r.from.len()..];
        out.push_str(&rest[..at]);
        out.push_str(if continues_word || !(r.when)(after) {
            &r.from
        } else {
            &r.to
        });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// What changes, for the name `kebab` (`acme-store`).
fn replacements(kebab: &str) -> Vec<Replacement> {
    let title = kebab
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join(" ");
    let prefix = kebab.rsplit('-').next().unwrap_or(kebab).to_owned();
    let rule = |from: &str, to: String, when: fn(&str) -> bool| Replacement {
        from: from.to_owned(),
        to,
        when,
    };
    vec![
        rule("Ferris Shop", title, always),
        rule("ferris-shop", kebab.to_owned(), always),
        rule("shop-", format!("{prefix}-"), always),
        rule("shop_", format!("{prefix}_"), always),
        rule("SHOP_", format!("{}_", prefix.to_uppercase()), always),
        rule("shop.", format!("{prefix}."), package_or_exchange),
        rule("\"shop\"", format!("\"{prefix}\""), always),
        rule("proto/shop/", format!("proto/{prefix}/"), always),
        rule("\"shop/", format!("\"{prefix}/"), always),
    ]
}

/// The files git knows about, relative to `root`.
fn files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let output = Command::new("git")
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .current_dir(root)
        .output()
        .context("running git ls-files (rename works on a git checkout)")?;
    ensure!(output.status.success(), "git ls-files failed");
    Ok(output
        .stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .filter(|p| p.as_os_str() != "Cargo.lock")
        .collect())
}

/// Runs the task.
pub fn run(root: &Path, name: &str) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && name.split('-').all(|word| {
            word.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && word
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        });
    ensure!(
        valid,
        "{name:?} is not a kebab-case name such as acme-store (lower-case words and digits, \
         joined by dashes)"
    );
    let replacements = replacements(name);
    let mut rewritten = 0;
    let mut moved = 0;
    for relative in files(root)? {
        let path = root.join(&relative);
        if !path.is_file() {
            continue;
        }
        // Text only: a file that is not UTF-8 (an image) stays as it is.
        if let Ok(text) = std::fs::read_to_string(&path) {
            let updated = rewrite(&text, &replacements);
            if updated != text {
                std::fs::write(&path, updated)
                    .with_context(|| format!("writing {}", path.display()))?;
                rewritten += 1;
            }
        }
        let renamed = rewrite(&relative.to_string_lossy(), &replacements);
        if renamed != relative.to_string_lossy() {
            let target = root.join(&renamed);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(&path, &target)
                .with_context(|| format!("moving {} to {renamed}", relative.display()))?;
            moved += 1;
        }
    }
    // Directories left empty by the moves (proto/shop/...).
    remove_empty_dirs(&root.join("proto"))?;
    println!(
        "renamed to {name}: {rewritten} files rewritten, {moved} moved. Build once (without \
         --locked) so Cargo.lock follows."
    );
    Ok(())
}

fn remove_empty_dirs(dir: &Path) -> anyhow::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            remove_empty_dirs(&path)?;
            if std::fs::read_dir(&path)?.next().is_none() {
                std::fs::remove_dir(&path)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_change_where_they_are_names_and_words_stay_words() {
        let text = "Ferris Shop runs shop-order (shop_order), reads SHOP_DATABASE__URL, \
                    serves /shop.order.v1.OrderService on shop.events, in the ferris-shop \
                    namespace; the shop sells, my_shop_id, workshop-x and shop.rs stay.";
        assert_eq!(
            rewrite(text, &replacements("acme-store")),
            "Acme Store runs store-order (store_order), reads STORE_DATABASE__URL, \
             serves /store.order.v1.OrderService on store.events, in the acme-store \
             namespace; the shop sells, my_shop_id, workshop-x and shop.rs stay."
        );
    }
}
