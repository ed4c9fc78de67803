//! Unit-test fixture: the app wired to mocked ports and a real in-memory signing key.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use chrono::Utc;
use shop_auth::{AuthSettings, Denylist, DenylistError, Role, keys};
use uuid::Uuid;

use super::ports::{MockHasherPort, MockKeyStore, MockSessionStore, MockUserStore, StoredKey};
use super::{Dependencies, Keyring, ServiceClients, TokenPolicy, Users};
use crate::domain::{Email, LoginThrottle, User};

/// An in-memory denylist, for the logic of publishing revocations; the Redis one is covered by
/// integration tests.
#[derive(Debug)]
pub(crate) struct MemoryDenylist {
    revoked: Mutex<HashSet<Uuid>>,
    loaded: AtomicBool,
}

impl MemoryDenylist {
    fn new() -> Self {
        Self {
            revoked: Mutex::new(HashSet::new()),
            loaded: AtomicBool::new(true),
        }
    }

    /// What a Redis restart does.
    pub fn forget_everything(&self) {
        self.revoked.lock().unwrap().clear();
        self.loaded.store(false, Ordering::SeqCst);
    }

    pub fn holds(&self, session: Uuid) -> bool {
        self.revoked.lock().unwrap().contains(&session)
    }

    pub fn loaded(&self) -> bool {
        self.loaded.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Denylist for MemoryDenylist {
    async fn revoke_session(&self, sid: Uuid, _: Duration) -> Result<(), DenylistError> {
        self.revoked.lock().unwrap().insert(sid);
        Ok(())
    }

    async fn is_session_revoked(&self, sid: Uuid) -> Result<bool, DenylistError> {
        Ok(self.holds(sid))
    }

    async fn is_loaded(&self) -> Result<bool, DenylistError> {
        Ok(self.loaded())
    }

    async fn load(&self, revocations: &[(Uuid, Duration)]) -> Result<(), DenylistError> {
        self.revoked
            .lock()
            .unwrap()
            .extend(revocations.iter().map(|(sid, _)| *sid));
        self.loaded.store(true, Ordering::SeqCst);
        Ok(())
    }
}

pub(crate) struct Fixture {
    pub users: MockUserStore,
    pub sessions: MockSessionStore,
    pub hasher: MockHasherPort,
    pub service_clients: ServiceClients,
    key: StoredKey,
}

impl Fixture {
    pub fn new() -> Self {
        let pair = keys::generate().unwrap();
        Self {
            users: MockUserStore::new(),
            sessions: MockSessionStore::new(),
            hasher: MockHasherPort::new(),
            service_clients: ServiceClients::new(),
            key: StoredKey {
                kid: "test".to_owned(),
                private_pkcs8_der: pair.private_pkcs8_der,
                public_key: pair.public_key.to_vec(),
            },
        }
    }

    pub fn app(self) -> Users {
        self.app_with_denylist().0
    }

    /// The app, and the denylist it publishes revocations to.
    pub fn app_with_denylist(self) -> (Users, Arc<MemoryDenylist>) {
        let denylist = Arc::new(MemoryDenylist::new());
        let mut keys = MockKeyStore::new();
        let key = self.key.clone();
        keys.expect_current().returning(move || Ok(key.clone()));
        let app = Users::new(Dependencies {
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            hasher: Arc::new(self.hasher),
            keyring: Keyring::new(
                Arc::new(keys),
                AuthSettings::default(),
                Duration::from_secs(960),
                Duration::from_secs(600),
            ),
            denylist: denylist.clone(),
            throttle: LoginThrottle {
                free_failures: 5,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(900),
            },
            tokens: TokenPolicy {
                access_ttl: Duration::from_secs(900),
                refresh_ttl: Duration::from_secs(86_400),
                service_ttl: Duration::from_secs(600),
                revocation_ttl: Duration::from_secs(930),
            },
            service_clients: self.service_clients,
        });
        (app, denylist)
    }
}

pub(crate) fn user(id: Uuid, email: &str) -> User {
    User {
        id,
        email: Email::parse(email).unwrap(),
        name: "Ann".to_owned(),
        roles: vec![Role::Customer],
        created_at: Utc::now(),
    }
}

/// The claims of a token, unverified: for asserting what was signed.
pub(crate) fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}
