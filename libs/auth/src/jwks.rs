//! Public keys by `kid`: where they come from, and the cache verifiers read them through.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};
use shop_platform::grpc_client::GrpcChannel;
use shop_proto::user::v1::GetJwksRequest;
use shop_proto::user::v1::user_service_client::UserServiceClient;
use tokio::sync::{Mutex, RwLock};

/// One public key as a JSON Web Key (RFC 8037 OKP / Ed25519).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
}

impl PublicJwk {
    /// The verification key, if this JWK is an Ed25519 signing key we can use.
    fn decoding_key(&self) -> Option<DecodingKey> {
        if self.kty != "OKP" || self.crv != "Ed25519" || self.alg != "EdDSA" {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(&self.x).ok()?;
        // An Ed25519 public key is exactly 32 bytes; anything else is not one.
        (raw.len() == 32).then(|| DecodingKey::from_ed_der(&raw))
    }
}

/// Where the current key set comes from.
#[async_trait]
pub trait KeySource: Send + Sync {
    async fn fetch(&self) -> anyhow::Result<Vec<PublicJwk>>;
}

/// The user service's `GetJwks`: how the gateway and the backends learn the keys.
#[derive(Debug, Clone)]
pub struct GrpcKeySource {
    client: UserServiceClient<GrpcChannel>,
}

impl GrpcKeySource {
    pub fn new(channel: GrpcChannel) -> Self {
        Self {
            client: UserServiceClient::new(channel),
        }
    }
}

#[async_trait]
impl KeySource for GrpcKeySource {
    async fn fetch(&self) -> anyhow::Result<Vec<PublicJwk>> {
        let mut request = tonic::Request::new(GetJwksRequest {});
        request.set_timeout(Duration::from_secs(2));
        let response = self.client.clone().get_jwks(request).await?.into_inner();
        Ok(response
            .keys
            .into_iter()
            .map(|k| PublicJwk {
                kty: k.kty,
                crv: k.crv,
                x: k.x,
                kid: k.kid,
                alg: k.alg,
                key_use: k.r#use,
            })
            .collect())
    }
}

/// A fixed key set (tests, and a verifier inside the issuer itself).
#[derive(Debug, Clone, Default)]
pub struct StaticKeySource(pub Vec<PublicJwk>);

#[async_trait]
impl KeySource for StaticKeySource {
    async fn fetch(&self) -> anyhow::Result<Vec<PublicJwk>> {
        Ok(self.0.clone())
    }
}

/// Why no key was found.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeyLookupError {
    #[error("no key with kid {0:?}")]
    UnknownKid(String),
    #[error("the key set is unavailable: {0}")]
    Unavailable(String),
}

struct Cached {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
}

/// Keys by `kid`, refreshed when a token names a key we do not know (a rotation happened) and
/// when the set is older than `max_age` (a retired key must stop working). Refreshes are single
/// flight (concurrent misses wait for one fetch) and at most one per `min_interval`, so a flood
/// of tokens with made-up `kid`s cannot turn into a flood of fetches.
pub struct JwksCache {
    source: Arc<dyn KeySource>,
    cached: RwLock<Cached>,
    refreshing: Mutex<()>,
    min_interval: Duration,
    max_age: Duration,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache").finish_non_exhaustive()
    }
}

impl JwksCache {
    pub fn new(source: Arc<dyn KeySource>, min_interval: Duration, max_age: Duration) -> Self {
        Self {
            source,
            cached: RwLock::new(Cached {
                keys: HashMap::new(),
                fetched_at: None,
            }),
            refreshing: Mutex::new(()),
            min_interval,
            max_age,
        }
    }

    pub(crate) async fn key(&self, kid: &str) -> Result<DecodingKey, KeyLookupError> {
        {
            let cached = self.cached.read().await;
            let fresh = cached
                .fetched_at
                .is_some_and(|at| at.elapsed() < self.max_age);
            if fresh && let Some(key) = cached.keys.get(kid) {
                return Ok(key.clone());
            }
        }
        self.refresh_for(kid).await
    }

    async fn refresh_for(&self, kid: &str) -> Result<DecodingKey, KeyLookupError> {
        let _single_flight = self.refreshing.lock().await;
        // Someone may have refreshed while we waited for the lock.
        {
            let cached = self.cached.read().await;
            let age = cached.fetched_at.map(|at| at.elapsed());
            if let Some(age) = age {
                if age < self.max_age
                    && let Some(key) = cached.keys.get(kid)
                {
                    return Ok(key.clone());
                }
                if age < self.min_interval {
                    return Err(KeyLookupError::UnknownKid(kid.to_owned()));
                }
            }
        }

        match self.source.fetch().await {
            Ok(jwks) => {
                let keys: HashMap<String, DecodingKey> = jwks
                    .iter()
                    .filter_map(|jwk| jwk.decoding_key().map(|key| (jwk.kid.clone(), key)))
                    .collect();
                metrics::counter!("auth_jwks_refreshes_total", "outcome" => "ok").increment(1);
                let mut cached = self.cached.write().await;
                cached.keys = keys;
                cached.fetched_at = Some(Instant::now());
                cached
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| KeyLookupError::UnknownKid(kid.to_owned()))
            }
            Err(err) => {
                metrics::counter!("auth_jwks_refreshes_total", "outcome" => "error").increment(1);
                tracing::warn!(error = format!("{err:#}"), "fetching the JWKS failed");
                // Serve a stale key rather than reject valid tokens while the issuer is down.
                let cached = self.cached.read().await;
                cached
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| KeyLookupError::Unavailable(format!("{err:#}")))
            }
        }
    }
}
