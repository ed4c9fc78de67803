//! The claims of a Ferris Shop access token, and the roles it can carry.

use serde::{Deserialize, Serialize};
pub use shop_kernel::Role;
use uuid::Uuid;

/// JWT claims: the registered ones (RFC 7519) plus roles and the session they belong to.
///
/// Two kinds of token share this shape. A person's token has their user id as `sub`, their
/// roles, and `sid`. A service's token has `sub = "service:<name>"`, no roles and no session.
/// [`crate::Principal`] tells them apart; nothing else should look at `sub` directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, or `service:<name>`.
    pub sub: String,
    pub iss: String,
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Token id, unique per token (logs, audits).
    pub jti: Uuid,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// Session id: the refresh-token family a person's token was issued in. Logout and a
    /// reused refresh token revoke the session, and with it every access token that names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
}

/// The `sub` prefix of service tokens.
pub const SERVICE_SUBJECT_PREFIX: &str = "service:";
