//! Password hashing with argon2id at a cost from OWASP's list of equal-strength settings.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use async_trait::async_trait;

use crate::app::ports::HasherPort;
use crate::domain::Password;

/// OWASP Password Storage Cheat Sheet, one of its equal-strength argon2id settings: m = 7 MiB,
/// t = 5, p = 1. The cheat sheet's first, m = 19 MiB with t = 2, costs the same time and 12 MiB
/// more per hash, memory the allocator may keep after the hash ends (ADR 21).
pub const MEMORY_KIB: u32 = 7_168;
pub const ITERATIONS: u32 = 5;
pub const PARALLELISM: u32 = 1;

/// Hashes on a pool of its own, `max_concurrent` threads: a hash takes tens of milliseconds of
/// pure CPU, which on the async runtime would stall every other request on that worker. At most
/// `max_concurrent` hashes run at once (each holds 7 MiB while it runs) and the rest wait in the
/// pool's queue, so a burst of sign-ins costs time, not memory. A block goes back to the system
/// when its hash ends (mimalloc is built to map allocations that large directly, ADR 22,
/// checked by `tests/memory.rs`); the pool's few, always the same threads also bound what a
/// build without that setting would keep: one block per pool thread (ADR 21).
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    pool: Arc<rayon::ThreadPool>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Argon2Hasher {
    pub fn new(max_concurrent: usize) -> anyhow::Result<Self> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(max_concurrent.max(1))
            .thread_name(|i| format!("argon2-{i}"))
            // A panicking job ends only itself (its caller sees the task fail), not the process.
            .panic_handler(|_| tracing::error!("a password hash panicked"))
            .build()
            .context("starting the password hashing threads")?;
        Ok(Self {
            pool: Arc::new(pool),
            running: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The most hashes that ever ran at once.
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Runs `work` on the hashing pool when one of its threads is free.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let (running, peak) = (self.running.clone(), self.peak.clone());
        self.pool.spawn(move || {
            // A caller that went while the job queued (its deadline passed, its client left)
            // costs no hash: a flood of abandoned sign-ins must not keep the pool busy.
            if done.is_closed() {
                return;
            }
            let guard = Running::start(&running);
            peak.fetch_max(guard.now, Ordering::Relaxed);
            let outcome = work();
            drop(guard);
            // The caller may have gone (its request was cancelled); nothing to tell then.
            let _ = done.send(outcome);
        });
        result.await.context("the hashing task failed")?
    }
}

/// One hash counted as running from its start until it ends, however it ends (a panicking
/// hash unwinds through the drop), with the gauge set on both changes.
struct Running<'a> {
    running: &'a AtomicUsize,
    now: usize,
}

impl<'a> Running<'a> {
    fn start(running: &'a AtomicUsize) -> Self {
        let now = running.fetch_add(1, Ordering::Relaxed) + 1;
        set_running_gauge(now);
        Self { running, now }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        set_running_gauge(self.running.fetch_sub(1, Ordering::Relaxed) - 1);
    }
}

fn set_running_gauge(now: usize) {
    #[allow(clippy::cast_precision_loss)] // A handful at most.
    metrics::gauge!("users_password_hashes_running").set(now as f64);
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|err| anyhow::anyhow!("argon2 parameters: {err}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Whether `hash` was made with [`argon2`]'s algorithm, version and parameters.
fn made_with_current_cost(hash: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    parsed.algorithm == Algorithm::Argon2id.ident()
        && parsed.version == Some(Version::V0x13.into())
        && params.m_cost() == MEMORY_KIB
        && params.t_cost() == ITERATIONS
        && params.p_cost() == PARALLELISM
}

#[async_trait]
impl HasherPort for Argon2Hasher {
    async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let password = password.expose().to_owned();
        self.bounded(move || {
            let hash = argon2()?
                .hash_password(password.as_bytes())
                .map_err(|err| anyhow::anyhow!("hashing the password: {err}"))?;
            Ok(hash.to_string())
        })
        .await
    }

    async fn verify(&self, candidate: &str, hash: &str) -> anyhow::Result<bool> {
        let candidate = candidate.to_owned();
        let hash = hash.to_owned();
        self.bounded(move || {
            // The stored hash carries its own parameters; verification uses those, so hashes
            // made under an older cost still verify.
            match argon2()?.verify_password(candidate.as_bytes(), hash.as_str()) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(err) => Err(anyhow::anyhow!("verifying against the stored hash: {err}")),
            }
        })
        .await
    }

    fn is_current(&self, hash: &str) -> bool {
        made_with_current_cost(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_an_argon2id_phc_string_at_owasp_cost_and_verifies() {
        let hasher = Argon2Hasher::new(2).unwrap();
        let password = Password::parse("correct horse battery".to_owned()).unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{hash}");
        assert!(hasher.is_current(&hash));
        assert!(hasher.verify("correct horse battery", &hash).await.unwrap());
        assert!(
            !hasher
                .verify("correct horse battery!", &hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn a_hash_made_at_another_cost_still_verifies_and_is_not_current() {
        // Made at the cost used before (m = 19 MiB, t = 2), with a fixed salt.
        let earlier = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19_456, 2, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"correct horse battery", b"salt-salt-salt-1")
        .unwrap()
        .to_string();
        let hasher = Argon2Hasher::new(1).unwrap();
        assert!(
            hasher
                .verify("correct horse battery", &earlier)
                .await
                .unwrap()
        );
        assert!(!hasher.verify("correct horse", &earlier).await.unwrap());
        assert!(!hasher.is_current(&earlier));
        assert!(!hasher.is_current("not a phc string"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_hashes_runs_at_most_the_permitted_number_at_once() {
        let hasher = Argon2Hasher::new(2).unwrap();
        let password = Password::parse("correct horse battery".to_owned()).unwrap();
        let burst = (0..8).map(|_| {
            let (hasher, password) = (hasher.clone(), password.clone());
            tokio::spawn(async move { hasher.hash(&password).await })
        });
        for hash in futures::future::join_all(burst).await {
            assert!(hash.unwrap().unwrap().starts_with("$argon2id$"));
        }
        assert_eq!(hasher.peak_concurrency(), 2, "eight at once, two at a time");
    }

    #[tokio::test]
    async fn a_job_whose_caller_left_while_it_queued_is_never_run() {
        let hasher = Argon2Hasher::new(1).unwrap();
        // The pool's one thread, busy until released.
        let (release, held) = std::sync::mpsc::channel::<()>();
        hasher.pool.spawn(move || {
            held.recv().ok();
        });
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        let abandoned = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            hasher.bounded(move || {
                flag.store(true, Ordering::SeqCst);
                Ok(())
            }),
        )
        .await;
        assert!(abandoned.is_err(), "it waited behind the busy thread");
        release.send(()).unwrap();
        // The pool's one thread takes jobs in order: one queued after the abandoned job has
        // run once this answers.
        hasher.bounded(|| Ok(())).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst), "the abandoned job was skipped");
    }

    #[tokio::test]
    async fn a_hash_that_ends_or_panics_is_no_longer_counted_as_running() {
        let hasher = Argon2Hasher::new(1).unwrap();
        hasher.bounded(|| Ok(())).await.unwrap();
        assert_eq!(hasher.running.load(Ordering::Relaxed), 0, "after a hash");
        let panicked = hasher.bounded::<()>(|| panic!("a hash that panics")).await;
        assert!(panicked.is_err(), "its caller sees the failure");
        assert_eq!(hasher.running.load(Ordering::Relaxed), 0, "after a panic");
        assert_eq!(hasher.peak_concurrency(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn every_hash_runs_on_one_of_the_pools_own_threads() {
        let hasher = Argon2Hasher::new(2).unwrap();
        let burst = (0..8).map(|_| {
            let hasher = hasher.clone();
            tokio::spawn(async move {
                hasher
                    .bounded(|| {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        Ok(std::thread::current().name().map(str::to_owned))
                    })
                    .await
            })
        });
        let threads: std::collections::BTreeSet<_> = futures::future::join_all(burst)
            .await
            .into_iter()
            .map(|name| name.unwrap().unwrap())
            .collect();
        assert!(
            threads
                .iter()
                .all(|name| matches!(name.as_deref(), Some("argon2-0" | "argon2-1"))),
            "{threads:?}"
        );
    }
}
