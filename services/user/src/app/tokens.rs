//! Issuing a token pair: a signed access token and an opaque, single-use refresh token.

use std::time::Duration;

use sha2::{Digest as _, Sha256};
use shop_auth::keys;
use uuid::Uuid;

use super::ports::TokenHash;
use super::{UserError, Users};
use crate::domain::User;

/// What a client gets at login and refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    pub access_token: String,
    pub expires_in: Duration,
    pub refresh_token: String,
}

/// A new refresh token and the hash under which it is stored.
pub(crate) fn new_refresh_token() -> anyhow::Result<(String, TokenHash)> {
    let token = keys::random_token(32)?;
    let hash = hash_refresh_token(&token);
    Ok((token, hash))
}

pub(crate) fn hash_refresh_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

impl Users {
    /// Signs an access token for `user` in session `family_id`, paired with `refresh_token`.
    pub(crate) async fn pair(
        &self,
        user: &User,
        family_id: Uuid,
        refresh_token: String,
    ) -> Result<TokenPair, UserError> {
        let signer = self.keyring.signer().await?;
        let issued = signer
            .sign(user.id, &user.roles, family_id, self.tokens.access_ttl)
            .map_err(|err| {
                UserError::Unexpected(anyhow::Error::new(err).context("signing the access token"))
            })?;
        Ok(TokenPair {
            access_token: issued.token,
            expires_in: self.tokens.access_ttl,
            refresh_token,
        })
    }

    pub(crate) fn refresh_expiry(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::from_std(self.tokens.refresh_ttl)
                .unwrap_or(chrono::Duration::days(30))
    }
}
