//! GetUser: read an account; yourself, or anyone if you are an admin.

use shop_auth::Caller;

use super::{UserError, Users};
use crate::domain::{User, UserId};

impl Users {
    /// Another user's id answers NOT_FOUND, not PERMISSION_DENIED, so ids cannot be probed.
    pub async fn get_user(&self, caller: &Caller, id: UserId) -> Result<User, UserError> {
        if !caller.may_access(id) {
            return Err(UserError::NotFound);
        }
        self.users.by_id(id).await?.ok_or(UserError::NotFound)
    }
}
