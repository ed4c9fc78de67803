//! Issuing access tokens.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use uuid::Uuid;

use crate::claims::{Claims, Role, SERVICE_SUBJECT_PREFIX};
use crate::settings::AuthSettings;

/// Signs access tokens with one Ed25519 key, identified by its `kid`.
#[derive(Clone)]
pub struct TokenSigner {
    kid: String,
    key: EncodingKey,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A freshly signed token and the claims inside it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub claims: Claims,
}

impl TokenSigner {
    /// A signer for the private key in PKCS#8 DER form.
    pub fn new(kid: impl Into<String>, pkcs8_der: &[u8], settings: &AuthSettings) -> Self {
        Self {
            kid: kid.into(),
            key: EncodingKey::from_ed_der(pkcs8_der),
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Signs an access token for `user` with `roles` in session `sid`, valid for `ttl`.
    pub fn sign(
        &self,
        user: Uuid,
        roles: &[Role],
        sid: Uuid,
        ttl: Duration,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        self.sign_subject(user.to_string(), roles, Some(sid), ttl)
    }

    /// Signs a service token for the service `name` (`sub = service:<name>`), valid for `ttl`.
    pub fn sign_service(
        &self,
        name: &str,
        ttl: Duration,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        self.sign_subject(format!("{SERVICE_SUBJECT_PREFIX}{name}"), &[], None, ttl)
    }

    fn sign_subject(
        &self,
        sub: String,
        roles: &[Role],
        sid: Option<Uuid>,
        ttl: Duration,
    ) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            iat: now,
            jti: Uuid::now_v7(),
            roles: roles.to_vec(),
            sid,
        };
        let token = self.sign_claims(&claims)?;
        Ok(IssuedToken { token, claims })
    }

    /// Signs arbitrary claims; [`TokenSigner::sign`] is the normal path, this is for tests that
    /// need unusual tokens (expired, foreign audience).
    pub fn sign_claims(&self, claims: &Claims) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key)
    }
}
