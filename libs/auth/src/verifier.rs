//! Verifying access tokens.

use std::collections::HashSet;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation};

use crate::caller::{Caller, Principal};
use crate::claims::Claims;
use crate::denylist::{Denylist, DenylistError};
use crate::jwks::{JwksCache, KeyLookupError};
use crate::settings::AuthSettings;

/// Why a token was not accepted. The reason is for logs; clients see only the kind.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token is missing, malformed, forged, expired, revoked or not for us: 401.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// We could not decide (the key set or the denylist is unreachable): 503, so a client does
    /// not throw away a token that may be fine.
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
}

/// Checks access tokens. Cheap to clone; one per process.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Arc<JwksCache>,
    validation: Arc<Validation>,
    denylist: Option<Arc<dyn Denylist>>,
    denylist_fail_open: bool,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("denylist", &self.denylist.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    pub fn new(settings: &AuthSettings, keys: Arc<JwksCache>) -> Self {
        // Exactly one algorithm: a token claiming any other (none, HS256 with our public key as
        // the secret, RS256...) is rejected before any key is looked at.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_audience(&[settings.audience.as_str()]);
        validation.leeway = settings.leeway.min(crate::settings::MAX_LEEWAY).as_secs();
        validation.required_spec_claims = ["exp", "iss", "aud", "sub"]
            .into_iter()
            .map(str::to_owned)
            .collect::<HashSet<_>>();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        Self {
            keys,
            validation: Arc::new(validation),
            denylist: None,
            denylist_fail_open: settings.denylist_fail_open,
        }
    }

    /// A verifier that learns the keys from the user service's `GetJwks` over `channel`:
    /// how every service but the issuer is set up.
    pub fn from_user_service(
        settings: &AuthSettings,
        channel: shop_platform::grpc_client::GrpcChannel,
    ) -> Self {
        let keys = JwksCache::new(
            Arc::new(crate::jwks::GrpcKeySource::new(channel)),
            settings.jwks_min_refresh_interval,
            settings.jwks_max_age,
        );
        Self::new(settings, Arc::new(keys))
    }

    /// The verifier of every service but the issuer: keys from the user service over `user`,
    /// people's sessions checked against the shared denylist in `redis` (under `key_prefix`).
    pub fn for_service(
        settings: &AuthSettings,
        user: shop_platform::grpc_client::GrpcChannel,
        redis: redis::aio::ConnectionManager,
        key_prefix: &str,
    ) -> Self {
        Self::from_user_service(settings, user).with_denylist(Arc::new(
            crate::denylist::RedisDenylist::new(redis, key_prefix),
        ))
    }

    /// Also rejects people's tokens whose session was revoked (logout, a reused refresh token).
    #[must_use]
    pub fn with_denylist(mut self, denylist: Arc<dyn Denylist>) -> Self {
        self.denylist = Some(denylist);
        self
    }

    /// Verifies `token` and returns the principal it identifies: a person or a service.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let result = self.verify_inner(token).await;
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(AuthError::Unauthenticated(reason)) => {
                tracing::debug!(reason, "token rejected");
                "rejected"
            }
            Err(AuthError::Unavailable(reason)) => {
                tracing::warn!(reason, "token could not be checked");
                "unavailable"
            }
        };
        metrics::counter!("auth_token_verifications_total", "outcome" => outcome).increment(1);
        result
    }

    /// Verifies a person's token: a service token is not one (HTTP clients are people).
    pub async fn verify_user(&self, token: &str) -> Result<Caller, AuthError> {
        match self.verify(token).await? {
            Principal::User(caller) => Ok(caller),
            Principal::Service(service) => Err(AuthError::Unauthenticated(format!(
                "a service token (service:{}) where a person's is needed",
                service.name()
            ))),
        }
    }

    async fn verify_inner(&self, token: &str) -> Result<Principal, AuthError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|err| AuthError::Unauthenticated(format!("malformed token: {err}")))?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Unauthenticated(format!(
                "algorithm {:?} not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Unauthenticated("no kid in the header".to_owned()))?;
        let key = self.keys.key(&kid).await.map_err(|err| match err {
            KeyLookupError::UnknownKid(_) => AuthError::Unauthenticated(err.to_string()),
            KeyLookupError::Unavailable(_) => AuthError::Unavailable(err.to_string()),
        })?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|err| AuthError::Unauthenticated(format!("invalid token: {err}")))?;
        let principal = Principal::from_claims(data.claims, token.to_owned())
            .map_err(AuthError::Unauthenticated)?;

        // Sessions belong to people; a service token has none to revoke (it lives minutes and
        // its client secret is what an operator rotates).
        if let (Principal::User(caller), Some(denylist)) = (&principal, &self.denylist) {
            let sid = caller.session_id();
            match denylist.is_session_revoked(sid).await {
                Ok(true) => {
                    return Err(AuthError::Unauthenticated(format!(
                        "session {sid} was revoked"
                    )));
                }
                Ok(false) => {}
                Err(err) if self.denylist_fail_open => {
                    let reason = match err {
                        DenylistError::Unreachable(_) => "unreachable",
                        DenylistError::NotLoaded => "not_loaded",
                    };
                    metrics::counter!("auth_denylist_unavailable_total", "reason" => reason)
                        .increment(1);
                    tracing::warn!(error = %err, "denylist unavailable; accepting a signed token");
                }
                Err(err) => return Err(AuthError::Unavailable(err.to_string())),
            }
        }
        Ok(principal)
    }
}
