//! Refresh: spend a refresh token for a new pair; a spent token presented again revokes the
//! whole session.

use super::ports::Rotation;
use super::tokens::{hash_refresh_token, new_refresh_token};
use super::{TokenPair, UserError, Users};

impl Users {
    #[tracing::instrument(name = "users.refresh", skip_all, err(Debug))]
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, UserError> {
        // Our tokens are 43 characters; anything far off is not one of ours.
        if refresh_token.is_empty() || refresh_token.chars().count() > 512 {
            return Err(UserError::InvalidRefreshToken);
        }
        let (next_token, next_hash) = new_refresh_token()?;
        let rotation = self
            .sessions
            .rotate(
                hash_refresh_token(refresh_token),
                next_hash,
                self.refresh_expiry(),
            )
            .await?;
        match rotation {
            Rotation::Rotated { user_id, family_id } => {
                // Roles may have changed since login: read them fresh.
                let user = self
                    .users
                    .by_id(user_id)
                    .await?
                    .ok_or(UserError::InvalidRefreshToken)?;
                metrics::counter!("users_refreshes_total", "outcome" => "ok").increment(1);
                self.pair(&user, family_id, next_token).await
            }
            Rotation::Reused { family_id } => {
                tracing::warn!(%family_id, "a spent refresh token was presented again; session revoked");
                // The store revoked the family with the reuse; every access token of the
                // session now stops working too, wherever it is presented.
                self.publish_revocation(family_id).await;
                metrics::counter!("users_refreshes_total", "outcome" => "reuse_detected")
                    .increment(1);
                Err(UserError::InvalidRefreshToken)
            }
            Rotation::Invalid => {
                metrics::counter!("users_refreshes_total", "outcome" => "invalid").increment(1);
                Err(UserError::InvalidRefreshToken)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::app::UserError;
    use crate::app::ports::Rotation;
    use crate::app::testing::{Fixture, user};

    #[tokio::test]
    async fn a_live_token_is_rotated_into_a_new_pair_in_the_same_session() {
        let mut f = Fixture::new();
        let user_id = uuid::Uuid::now_v7();
        let family_id = uuid::Uuid::now_v7();
        f.sessions
            .expect_rotate()
            .returning(move |_, _, _| Ok(Rotation::Rotated { user_id, family_id }));
        f.users
            .expect_by_id()
            .returning(move |id| Ok(Some(user(id, "ann@example.com"))));

        let pair = f.app().refresh("some-token").await.unwrap();
        assert_ne!(pair.refresh_token, "some-token");
    }

    #[tokio::test]
    async fn a_reused_token_is_refused_and_its_session_denied_everywhere() {
        let mut f = Fixture::new();
        let family_id = uuid::Uuid::now_v7();
        f.sessions
            .expect_rotate()
            .returning(move |_, _, _| Ok(Rotation::Reused { family_id }));
        f.sessions
            .expect_mark_published()
            .withf(move |ids| ids == [family_id])
            .returning(|_| Ok(()));
        let (app, denylist) = f.app_with_denylist();
        let err = app.refresh("spent").await.unwrap_err();
        assert!(matches!(err, UserError::InvalidRefreshToken), "{err:?}");
        assert!(denylist.holds(family_id));
    }

    #[tokio::test]
    async fn an_absurd_token_is_refused_without_a_lookup() {
        let mut f = Fixture::new();
        f.sessions.expect_rotate().never();
        let app = f.app();
        assert!(app.refresh("").await.is_err());
        assert!(app.refresh(&"x".repeat(10_000)).await.is_err());
    }
}
