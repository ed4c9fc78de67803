//! IssueServiceToken: a service proves who it is with its client secret and gets a short-lived
//! token for `service:<name>` (the OAuth 2.0 client-credentials grant, over gRPC).

use std::time::Duration;

use sha2::{Digest as _, Sha256};
use shop_auth::MIN_SECRET_LEN;
use shop_platform::validation::Violations;
use subtle::ConstantTimeEq as _;

use super::{UserError, Users};

/// A signed service token and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceToken {
    pub access_token: String,
    pub expires_in: Duration,
}

/// Longer inputs are not ours; refuse them before hashing anything.
const MAX_FIELD_LEN: usize = 256;

impl Users {
    #[tracing::instrument(
        name = "users.issue_service_token",
        skip_all,
        fields(client_id),
        err(Debug)
    )]
    pub async fn issue_service_token(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> Result<ServiceToken, UserError> {
        let mut violations = Violations::new();
        if client_id.is_empty() || client_id.len() > MAX_FIELD_LEN {
            violations.add("client_id", "must be a service name");
        }
        if client_secret.len() < MIN_SECRET_LEN || client_secret.len() > MAX_FIELD_LEN {
            violations.add(
                "client_secret",
                format!("must be {MIN_SECRET_LEN} to {MAX_FIELD_LEN} characters"),
            );
        }
        if !violations.is_empty() {
            return Err(UserError::Invalid(violations));
        }
        tracing::Span::current().record("client_id", client_id);

        // The digest is compared in constant time, and an unknown client costs the same hash
        // and comparison as a known one: timing tells nothing about which clients exist.
        let presented: [u8; 32] = Sha256::digest(client_secret.as_bytes()).into();
        let expected = self.service_clients.get(client_id);
        let matches = expected.unwrap_or(&[0u8; 32]).ct_eq(&presented).unwrap_u8() == 1;
        if expected.is_none() || !matches {
            metrics::counter!("users_service_tokens_total", "outcome" => "refused").increment(1);
            tracing::warn!(
                client_id,
                "a service token was refused: unknown client or wrong secret"
            );
            return Err(UserError::InvalidClientCredentials);
        }

        let signer = self.keyring.signer().await?;
        let issued = signer
            .sign_service(client_id, self.tokens.service_ttl)
            .map_err(|err| {
                UserError::Unexpected(anyhow::Error::new(err).context("signing a service token"))
            })?;
        metrics::counter!("users_service_tokens_total", "outcome" => "issued").increment(1);
        Ok(ServiceToken {
            access_token: issued.token,
            expires_in: self.tokens.service_ttl,
        })
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256};

    use crate::app::UserError;
    use crate::app::testing::Fixture;

    const SECRET: &str = "a-secret-of-more-than-thirty-two-characters";

    fn fixture() -> Fixture {
        let mut f = Fixture::new();
        f.service_clients
            .insert("order".to_owned(), Sha256::digest(SECRET.as_bytes()).into());
        f
    }

    #[tokio::test]
    async fn a_registered_client_with_its_secret_gets_a_token_for_its_name() {
        let app = fixture().app();
        let token = app.issue_service_token("order", SECRET).await.unwrap();
        let claims = crate::app::testing::claims_of(&token.access_token);
        assert_eq!(claims["sub"], "service:order");
        assert!(claims.get("sid").is_none());
        assert!(claims.get("roles").is_none());
    }

    #[tokio::test]
    async fn a_wrong_secret_and_an_unknown_client_are_refused_alike() {
        let app = fixture().app();
        let wrong = app
            .issue_service_token("order", "b-secret-of-more-than-thirty-two-characters")
            .await
            .unwrap_err();
        let unknown = app
            .issue_service_token("payment", SECRET)
            .await
            .unwrap_err();
        assert!(matches!(wrong, UserError::InvalidClientCredentials));
        assert!(matches!(unknown, UserError::InvalidClientCredentials));
    }

    #[tokio::test]
    async fn empty_or_oversized_fields_are_invalid_and_name_the_field() {
        let app = fixture().app();
        let UserError::Invalid(violations) =
            app.issue_service_token("", "short").await.unwrap_err()
        else {
            panic!("expected invalid input")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.clone()).collect();
        assert_eq!(fields, ["client_id", "client_secret"]);
    }
}
