//! Password hashing with argon2id at OWASP's recommended cost.

use anyhow::Context as _;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use async_trait::async_trait;

use crate::app::ports::HasherPort;
use crate::domain::Password;

/// OWASP Password Storage Cheat Sheet: argon2id, m = 19 MiB, t = 2, p = 1.
pub const MEMORY_KIB: u32 = 19_456;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

/// Hashes on the blocking thread pool: a hash takes tens of milliseconds of pure CPU, which
/// on the async runtime would stall every other request on that worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct Argon2Hasher;

fn argon2() -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|err| anyhow::anyhow!("argon2 parameters: {err}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

#[async_trait]
impl HasherPort for Argon2Hasher {
    async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let password = password.expose().to_owned();
        tokio::task::spawn_blocking(move || {
            let hash = argon2()?
                .hash_password(password.as_bytes())
                .map_err(|err| anyhow::anyhow!("hashing the password: {err}"))?;
            Ok(hash.to_string())
        })
        .await
        .context("the hashing task failed")?
    }

    async fn verify(&self, candidate: &str, hash: &str) -> anyhow::Result<bool> {
        let candidate = candidate.to_owned();
        let hash = hash.to_owned();
        tokio::task::spawn_blocking(move || {
            // The stored hash carries its own parameters; verification uses those, so hashes
            // made under an older cost still verify.
            match argon2()?.verify_password(candidate.as_bytes(), hash.as_str()) {
                Ok(()) => Ok(true),
                Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                Err(err) => Err(anyhow::anyhow!("verifying against the stored hash: {err}")),
            }
        })
        .await
        .context("the verification task failed")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_an_argon2id_phc_string_at_owasp_cost_and_verifies() {
        let hasher = Argon2Hasher;
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
}
