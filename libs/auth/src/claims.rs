//! The claims of a Ferris Shop access token, and the roles it can carry.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a caller may do beyond their own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Shops: their own account and orders.
    Customer,
    /// Runs the shop: the catalog, stock, and anyone's orders.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
        }
    }

    /// Parses the stored or transmitted name of a role.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "customer" => Some(Self::Customer),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }
}

/// JWT claims: the registered ones (RFC 7519) plus roles and the session they belong to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    pub iss: String,
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Token id: what logout puts on the denylist.
    pub jti: Uuid,
    pub roles: Vec<Role>,
    /// Session id: the refresh-token family this token was issued in, so logging out with an
    /// access token alone can end the whole session.
    pub sid: Uuid,
}
