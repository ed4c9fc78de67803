//! The keyring: which key signs now, and which keys the JWKS publishes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use shop_auth::{AuthSettings, KeySource, PublicJwk, TokenSigner, keys};
use tokio::sync::RwLock;

use super::ports::KeyStore;

/// How long the current signer is cached before the store is asked again, so a key that became
/// active (after `shop-user rotate-signing-key` and its publish-ahead time) signs within a
/// minute. Until then the previous key signs; it stays published for the overlap after.
const SIGNER_CACHE: Duration = Duration::from_secs(60);

/// Signing keys as the use cases see them. Keys are parsed once and cached, not per request.
#[derive(Clone)]
pub struct Keyring {
    store: Arc<dyn KeyStore>,
    settings: AuthSettings,
    overlap: Duration,
    publish_ahead: Duration,
    /// The signer, and until when it may be used without asking the store again.
    current: Arc<RwLock<Option<(TokenSigner, Instant)>>>,
    /// When the key this process rotated in starts signing, so the cache ends there.
    activation: Arc<RwLock<Option<Instant>>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("overlap", &self.overlap)
            .field("publish_ahead", &self.publish_ahead)
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// `overlap`: how long a retired key stays published (at least the access-token lifetime
    /// plus clock leeway, so no valid token loses its key). `publish_ahead`: how long a new key
    /// is published before it signs (longer than any verifier's JWKS refresh interval).
    pub fn new(
        store: Arc<dyn KeyStore>,
        settings: AuthSettings,
        overlap: Duration,
        publish_ahead: Duration,
    ) -> Self {
        Self {
            store,
            settings,
            overlap,
            publish_ahead,
            current: Arc::new(RwLock::new(None)),
            activation: Arc::new(RwLock::new(None)),
        }
    }

    /// The signer of the current key.
    pub async fn signer(&self) -> anyhow::Result<TokenSigner> {
        let now = Instant::now();
        if let Some((signer, until)) = self.current.read().await.as_ref()
            && now < *until
        {
            return Ok(signer.clone());
        }
        let key = self.store.current().await?;
        let signer = TokenSigner::new(key.kid, &key.private_pkcs8_der, &self.settings);
        let mut until = now + SIGNER_CACHE;
        if let Some(activation) = *self.activation.read().await
            && activation > now
        {
            until = until.min(activation);
        }
        *self.current.write().await = Some((signer.clone(), until));
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

    /// Publishes a new key that signs from `publish_ahead` on; returns its kid.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let key = self.store.rotate(self.publish_ahead).await?;
        *self.activation.write().await = Some(Instant::now() + self.publish_ahead);
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
