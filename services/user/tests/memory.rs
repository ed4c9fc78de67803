//! What a password hash takes from the system, it gives back when it ends (ADR 22).
//!
//! A test binary of its own: it runs with the service's allocator (mimalloc, as `main.rs`
//! declares it) and reads its own resident size, which other tests in the same process would
//! disturb. The setting it checks is made at build time (`.cargo/config.toml`), so this is
//! what notices if a build lost it: without it the freed 7 MiB block stays resident.

#![cfg(target_os = "linux")]
#![allow(clippy::expect_used)] // A test fails loudly at the first surprise.

use shop_user::adapters::argon2_hasher::{Argon2Hasher, MEMORY_KIB};
use shop_user::app::ports::HasherPort as _;
use shop_user::domain::Password;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// This process's resident size in KiB (`VmRSS` in `/proc/self/status`).
fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line in kB")
}

#[tokio::test]
async fn a_finished_hash_leaves_no_block_resident() {
    let hasher = Argon2Hasher::new(1).unwrap();
    let password = Password::parse("correct horse battery".to_owned()).unwrap();
    let block_kib = u64::from(MEMORY_KIB);

    // The pool's thread started and its allocator initialised, by a job that fails before any
    // hashing (the stored hash does not parse), so what follows measures the hash alone.
    hasher.verify("anything", "not a phc string").await.ok();

    let before = resident_kib();
    let hash = hasher.hash(&password).await.unwrap();
    let after = resident_kib();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(
        after < before + block_kib / 2,
        "a finished hash left {} KiB resident ({before} KiB before, {after} KiB after); the \
         allocator kept its {block_kib} KiB block: was mimalloc built without \
         MI_DEFAULT_ARENA_MAX_OBJECT_SIZE (.cargo/config.toml)?",
        after.saturating_sub(before)
    );

    // And the reading does see a block of that size while something holds it. (Measured last:
    // a block freed here could be reused by the hash and hide what this test looks for.)
    let before_held = resident_kib();
    let held = vec![1_u8; usize::try_from(block_kib * 1024).unwrap()];
    let while_held = resident_kib();
    assert!(
        while_held >= before_held + block_kib * 9 / 10,
        "holding {block_kib} KiB showed {while_held} KiB resident after {before_held} KiB"
    );
    drop(held);
}
