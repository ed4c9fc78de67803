//! Revoked sessions reach every verifier: recorded durably in the session store, published to
//! the shared denylist at once, and published again by a background round whenever that did
//! not happen or the denylist lost its data.

use std::time::Duration;

use chrono::Utc;
use shop_auth::DenylistError;
use uuid::Uuid;

use super::ports::RevokedSession;
use super::{UserError, Users};

/// What one publishing round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Published {
    /// Revocations written to the denylist.
    pub sessions: usize,
    /// Whether the whole list was reloaded (the denylist had lost its data).
    pub reloaded: bool,
}

impl Users {
    /// Puts an already-recorded revocation on the denylist. A failure is not the caller's
    /// problem: the revocation is durable and the next publishing round retries it.
    pub(crate) async fn publish_revocation(&self, session: Uuid) {
        let outcome = self
            .denylist
            .revoke_session(session, self.tokens.revocation_ttl)
            .await;
        match outcome {
            Ok(()) => {
                if let Err(err) = self.sessions.mark_published(&[session]).await {
                    tracing::warn!(error = format!("{err:#}"), %session, "recording a published revocation failed; it will be published again");
                }
            }
            Err(err) => {
                metrics::counter!("users_revocations_publish_failures_total").increment(1);
                tracing::warn!(error = %err, %session, "publishing a revocation failed; the next round retries it");
            }
        }
    }

    /// How long from now a session revoked at `revoked_at` must stay on the denylist; `None`
    /// once no access token of it can be alive.
    fn remaining(&self, session: &RevokedSession) -> Option<Duration> {
        let until =
            session.revoked_at + chrono::Duration::from_std(self.tokens.revocation_ttl).ok()?;
        (until - Utc::now()).to_std().ok().filter(|d| !d.is_zero())
    }

    /// One publishing round: when the denylist lost its data (its marker is gone), reloads every
    /// revocation still in force in one atomic step; otherwise publishes the ones that have not
    /// reached it yet.
    pub async fn publish_revocations(&self) -> Result<Published, UserError> {
        let since = Utc::now()
            - chrono::Duration::from_std(self.tokens.revocation_ttl)
                .unwrap_or(chrono::Duration::hours(1));
        let loaded = self.denylist.is_loaded().await.map_err(unexpected)?;
        if !loaded {
            let sessions = self.sessions.revoked_since(since).await?;
            let revocations: Vec<(Uuid, Duration)> = sessions
                .iter()
                .filter_map(|s| Some((s.family_id, self.remaining(s)?)))
                .collect();
            self.denylist.load(&revocations).await.map_err(unexpected)?;
            let ids: Vec<Uuid> = sessions.iter().map(|s| s.family_id).collect();
            self.sessions.mark_published(&ids).await?;
            metrics::counter!("users_revocations_reloads_total").increment(1);
            tracing::info!(
                sessions = revocations.len(),
                "the denylist had lost its data; every revocation in force is published again"
            );
            return Ok(Published {
                sessions: revocations.len(),
                reloaded: true,
            });
        }
        let pending = self.sessions.unpublished_revocations(since).await?;
        let mut published = Vec::with_capacity(pending.len());
        for session in &pending {
            if let Some(remaining) = self.remaining(session) {
                self.denylist
                    .revoke_session(session.family_id, remaining)
                    .await
                    .map_err(unexpected)?;
            }
            published.push(session.family_id);
        }
        self.sessions.mark_published(&published).await?;
        Ok(Published {
            sessions: published.len(),
            reloaded: false,
        })
    }
}

fn unexpected(err: DenylistError) -> UserError {
    UserError::Unexpected(anyhow::Error::new(err).context("the revocation denylist"))
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use crate::app::ports::RevokedSession;
    use crate::app::testing::Fixture;

    fn revoked(minutes_ago: i64) -> RevokedSession {
        RevokedSession {
            family_id: Uuid::now_v7(),
            revoked_at: Utc::now() - chrono::Duration::minutes(minutes_ago),
        }
    }

    #[tokio::test]
    async fn a_denylist_that_lost_its_data_gets_every_revocation_in_force_back_at_once() {
        let mut f = Fixture::new();
        let recent = revoked(1);
        f.sessions
            .expect_revoked_since()
            .returning(move |_| Ok(vec![recent]));
        f.sessions.expect_mark_published().returning(|_| Ok(()));
        let (app, denylist) = f.app_with_denylist();
        denylist.forget_everything();

        let round = app.publish_revocations().await.unwrap();
        assert_eq!(round.sessions, 1);
        assert!(round.reloaded);
        assert!(denylist.holds(recent.family_id));
        assert!(denylist.loaded());
    }

    #[tokio::test]
    async fn only_unpublished_revocations_are_sent_while_the_denylist_is_intact() {
        let mut f = Fixture::new();
        let pending = revoked(2);
        f.sessions.expect_revoked_since().never();
        f.sessions
            .expect_unpublished_revocations()
            .returning(move |_| Ok(vec![pending]));
        f.sessions
            .expect_mark_published()
            .withf(move |ids| ids == [pending.family_id])
            .times(1)
            .returning(|_| Ok(()));
        let (app, denylist) = f.app_with_denylist();

        let round = app.publish_revocations().await.unwrap();
        assert_eq!(round.sessions, 1);
        assert!(!round.reloaded);
        assert!(denylist.holds(pending.family_id));
    }
}
