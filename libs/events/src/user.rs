//! Events of the user service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Event;

/// A customer account was created. No service consumes it yet: it is the extension point for
/// a welcome email, a CRM sync, analytics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRegistered {
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub registered_at: DateTime<Utc>,
}

impl Event for UserRegistered {
    const TYPE: &'static str = "user.registered";
    const VERSION: u32 = 1;

    fn subject(&self) -> String {
        self.user_id.to_string()
    }
}
