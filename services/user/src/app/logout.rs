//! Logout: the access token stops working now, and its session cannot be refreshed.

use chrono::Utc;
use shop_auth::Caller;

use super::{UserError, Users};

impl Users {
    /// Denies the caller's access token until it expires and revokes its refresh family.
    /// Idempotent: logging out twice is fine.
    #[tracing::instrument(name = "users.logout", skip_all, err(Debug))]
    pub async fn logout(&self, caller: &Caller) -> Result<(), UserError> {
        let remaining = u64::try_from(caller.claims.exp - Utc::now().timestamp()).unwrap_or(0);
        self.denylist
            .revoke(
                caller.claims.jti,
                std::time::Duration::from_secs(remaining.max(1)),
            )
            .await?;
        self.sessions.revoke(caller.claims.sid, "logout").await?;
        metrics::counter!("users_logouts_total").increment(1);
        Ok(())
    }
}
