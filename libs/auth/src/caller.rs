//! Who is calling: the verified identity behind a request.

use uuid::Uuid;

use crate::claims::{Claims, Role};

/// A verified caller. Carries the original token so it can be forwarded to the next service
/// (each service verifies it again: zero trust inside the mesh).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub claims: Claims,
    token: String,
}

impl Caller {
    pub(crate) fn new(claims: Claims, token: String) -> Self {
        Self { claims, token }
    }

    pub fn user_id(&self) -> Uuid {
        self.claims.sub
    }

    pub fn is_admin(&self) -> bool {
        self.claims.roles.contains(&Role::Admin)
    }

    /// Whether the caller may see data owned by `owner`: their own, or anything for an admin.
    pub fn may_access(&self, owner: Uuid) -> bool {
        self.is_admin() || self.claims.sub == owner
    }

    /// The bearer token as received.
    pub fn token(&self) -> &str {
        &self.token
    }
}
