//! Logout: the session ends now, and with it every access token issued in it.

use shop_auth::Caller;

use super::{UserError, Users};

impl Users {
    /// Revokes the caller's session: its refresh tokens stop refreshing and its access tokens
    /// stop being accepted by every service. Idempotent: logging out twice is fine.
    #[tracing::instrument(name = "users.logout", skip_all, err(Debug))]
    pub async fn logout(&self, caller: &Caller) -> Result<(), UserError> {
        let session = caller.session_id();
        // Durable first: once this commits, the revocation survives anything that happens to
        // the denylist, which is only its published copy.
        self.sessions.revoke(session, "logout").await?;
        self.publish_revocation(session).await;
        metrics::counter!("users_logouts_total").increment(1);
        Ok(())
    }
}
