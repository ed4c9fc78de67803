//! An account as the rest of the system sees it.

use chrono::{DateTime, Utc};
use shop_kernel::Role;
use uuid::Uuid;

use super::Email;

/// A user's id (UUIDv7).
pub type UserId = Uuid;

/// An account, without its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub name: String,
    pub roles: Vec<Role>,
    pub created_at: DateTime<Utc>,
}
