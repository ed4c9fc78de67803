//! Password hashing with argon2id at OWASP's recommended cost.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use async_trait::async_trait;
use tokio::sync::Semaphore;

use crate::app::ports::HasherPort;
use crate::domain::Password;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// Hashes on the blocking thread pool: a hash takes tens of milliseconds of pure CPU, which
/// on the async runtime would stall every other request on that worker. At most
/// `max_concurrent` hashes run at once (each holds 19 MiB while it runs); the rest wait for a
/// permit, so a burst of sign-ins costs time, not unbounded memory.
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    permits: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl Argon2Hasher {
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            running: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The most hashes that ever ran at once.
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .context("the hashing permits are closed")?;
        let (running, peak) = (self.running.clone(), self.peak.clone());
        tokio::task::spawn_blocking(move || {
            let now = running.fetch_add(1, Ordering::Relaxed) + 1;
            peak.fetch_max(now, Ordering::Relaxed);
            #[allow(clippy::cast_precision_loss)] // A handful at most.
            metrics::gauge!("users_password_hashes_running").set(now as f64);
            let result = work();
            running.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            result
        })
        .await
        .context("the hashing task failed")?
    }
}

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|err| anyhow::anyhow!("argon2 parameters: {err}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_an_argon2id_phc_string_at_owasp_cost_and_verifies() {
        let hasher = Argon2Hasher::new(2);
        let password = Password::parse("correct horse battery".to_owned()).unwrap();
        let hash = hasher.hash(&password).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher.verify("correct horse battery", &hash).await.unwrap());
        assert!(
            !hasher
                .verify("correct horse battery!", &hash)
                .await
                .unwrap()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_hashes_runs_at_most_the_permitted_number_at_once() {
        let hasher = Argon2Hasher::new(2);
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
}
