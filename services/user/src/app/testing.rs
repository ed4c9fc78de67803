//! Unit-test fixture: the app wired to mocked ports and a real in-memory signing key.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use shop_auth::{AuthSettings, Denylist, Role, keys};
use uuid::Uuid;

use super::ports::{MockKeyStore, MockPasswordHasher, MockSessionStore, MockUserStore, StoredKey};
use super::{Dependencies, Keyring, TokenPolicy, Users};
use crate::domain::{Email, LoginThrottle, User};

/// A denylist that accepts everything; logout's use of it is covered by integration tests.
struct NoDenylist;

#[async_trait]
impl Denylist for NoDenylist {
    async fn revoke(&self, _: Uuid, _: Duration) -> anyhow::Result<()> {
        Ok(())
    }

    async fn is_revoked(&self, _: Uuid) -> anyhow::Result<bool> {
        Ok(false)
    }
}

pub(crate) struct Fixture {
    pub users: MockUserStore,
    pub sessions: MockSessionStore,
    pub hasher: MockPasswordHasher,
    key: StoredKey,
}

impl Fixture {
    pub fn new() -> Self {
        let pair = keys::generate().unwrap();
        Self {
            users: MockUserStore::new(),
            sessions: MockSessionStore::new(),
            hasher: MockPasswordHasher::new(),
            key: StoredKey {
                kid: "test".to_owned(),
                private_pkcs8_der: pair.private_pkcs8_der,
                public_key: pair.public_key.to_vec(),
            },
        }
    }

    pub fn app(self) -> Users {
        let mut keys = MockKeyStore::new();
        let key = self.key.clone();
        keys.expect_current().returning(move || Ok(key.clone()));
        Users::new(Dependencies {
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            hasher: Arc::new(self.hasher),
            keyring: Keyring::new(
                Arc::new(keys),
                AuthSettings::default(),
                Duration::from_secs(960),
            ),
            denylist: Arc::new(NoDenylist),
            throttle: LoginThrottle {
                free_failures: 5,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(900),
            },
            tokens: TokenPolicy {
                access_ttl: Duration::from_secs(900),
                refresh_ttl: Duration::from_secs(86_400),
            },
        })
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
