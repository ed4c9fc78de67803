//! The keyring: which key signs now, and which keys the JWKS publishes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use shop_auth::{AuthSettings, KeySource, PublicJwk, TokenSigner, keys};
use tokio::sync::RwLock;

use super::ports::KeyStore;

/// How long the current signer is cached before the store is asked again, so a rotation made
/// by another process (`shop-user rotate-signing-key`) is picked up within a minute.
const SIGNER_CACHE: Duration = Duration::from_secs(60);

/// Signing keys as the use cases see them. Keys are parsed once and cached, not per request.
#[derive(Clone)]
pub struct Keyring {
    store: Arc<dyn KeyStore>,
    settings: AuthSettings,
    overlap: Duration,
    current: Arc<RwLock<Option<(TokenSigner, Instant)>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("overlap", &self.overlap)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// `overlap`: how long a retired key stays published (at least the access-token lifetime
    /// plus clock leeway, so no valid token loses its key).
    pub fn new(store: Arc<dyn KeyStore>, settings: AuthSettings, overlap: Duration) -> Self {
        Self {
            store,
            settings,
            overlap,
            current: Arc::new(RwLock::new(None)),
        }
    }

    /// The signer of the current key.
    pub async fn signer(&self) -> anyhow::Result<TokenSigner> {
        if let Some((signer, at)) = self.current.read().await.as_ref()
            && at.elapsed() < SIGNER_CACHE
        {
            return Ok(signer.clone());
        }
        let key = self.store.current().await?;
        let signer = TokenSigner::new(key.kid, &key.private_pkcs8_der, &self.settings);
        *self.current.write().await = Some((signer.clone(), Instant::now()));
        Ok(signer)
    }

    /// The published public keys.
    pub async fn jwks(&self) -> anyhow::Result<Vec<PublicJwk>> {
        let keys = self.store.published(self.overlap).await?;
        Ok(keys
            .iter()
            .map(|k| keys::public_jwk(&k.kid, &k.public_key))
            .collect())
    }

    /// Makes a new key current; returns its kid.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let key = self.store.rotate().await?;
        *self.current.write().await = None;
        Ok(key.kid)
    }
}

/// The user service verifies tokens with its own published keys, read straight from its store.
#[async_trait]
impl KeySource for Keyring {
    async fn fetch(&self) -> anyhow::Result<Vec<PublicJwk>> {
        self.jwks().await
    }
}
