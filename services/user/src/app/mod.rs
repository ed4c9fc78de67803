//! Use cases of the user service, one file each, and the ports they depend on.

mod admin;
mod error;
mod get_user;
mod jwks;
mod login;
mod logout;
mod mails;
pub mod ports;
mod refresh;
mod register;
mod revocations;
mod service_tokens;
mod signing;
#[cfg(test)]
mod testing;
mod tokens;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub use error::UserError;
pub use mails::{Mails, Notice};
pub use service_tokens::ServiceToken;
use shop_auth::Denylist;
pub use signing::Keyring;
pub use tokens::TokenPair;

use crate::domain::LoginThrottle;
use ports::{HasherPort, SessionStore, UserStore};

/// Token lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct TokenPolicy {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub service_ttl: Duration,
    /// How long a revoked session stays on the denylist: the longest an access token issued
    /// in it may still be accepted (its lifetime plus the verifiers' clock leeway).
    pub revocation_ttl: Duration,
}

/// The services that may get a service token: client id -> SHA-256 of its secret.
pub type ServiceClients = BTreeMap<String, [u8; 32]>;

/// The user service's application: every use case is a method, in its own file.
#[derive(Clone)]
pub struct Users {
    users: Arc<dyn UserStore>,
    sessions: Arc<dyn SessionStore>,
    hasher: Arc<dyn HasherPort>,
    keyring: Keyring,
    denylist: Arc<dyn Denylist>,
    throttle: LoginThrottle,
    tokens: TokenPolicy,
    service_clients: Arc<ServiceClients>,
    /// A real hash of a random password, verified against when the email is unknown so that
    /// "no such account" takes as long as "wrong password". Made on first need.
    decoy_hash: Arc<tokio::sync::OnceCell<String>>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

/// The ports and policies a [`Users`] is built from.
#[allow(missing_debug_implementations)] // Trait objects; nothing useful to print.
pub struct Dependencies {
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub hasher: Arc<dyn HasherPort>,
    pub keyring: Keyring,
    pub denylist: Arc<dyn Denylist>,
    pub throttle: LoginThrottle,
    pub tokens: TokenPolicy,
    pub service_clients: ServiceClients,
}

impl Users {
    pub fn new(deps: Dependencies) -> Self {
        Self {
            users: deps.users,
            sessions: deps.sessions,
            hasher: deps.hasher,
            keyring: deps.keyring,
            denylist: deps.denylist,
            throttle: deps.throttle,
            tokens: deps.tokens,
            service_clients: Arc::new(deps.service_clients),
            decoy_hash: Arc::new(tokio::sync::OnceCell::new()),
        }
    }
}
