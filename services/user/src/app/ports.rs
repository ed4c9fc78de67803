//! The ports the use cases need. Adapters implement them; unit tests mock them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shop_auth::Role;
use uuid::Uuid;

use crate::domain::{DisplayName, Email, Password, User, UserId};

/// A new account, ready to store.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub id: UserId,
    pub email: Email,
    pub name: DisplayName,
    pub password_hash: String,
    pub roles: Vec<Role>,
}

/// What login needs to know about an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// Failed sign-ins counted for one email (known or not) within the counting window: from the
/// client at hand, and from every client together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedLogins {
    pub from_client: u32,
    pub from_anyone: u32,
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("the email is taken")]
    EmailTaken,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Accounts. `create` also records `user.registered` in the outbox, in the same transaction.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create(&self, account: NewAccount) -> Result<User, CreateError>;
    async fn credentials_by_email(&self, email: &Email) -> anyhow::Result<Option<Credentials>>;
    async fn by_id(&self, id: UserId) -> anyhow::Result<Option<User>>;
    /// Until when sign-ins to `email` are refused for `client`: the later of the client's own
    /// lock and the email's lock for everyone.
    async fn login_locked_until(
        &self,
        email: &Email,
        client: &str,
    ) -> anyhow::Result<Option<DateTime<Utc>>>;
    /// Counts one more failed sign-in to `email` from `client` (and from anyone); failures
    /// older than `window` are forgotten.
    async fn record_failed_login(
        &self,
        email: &Email,
        client: &str,
        window: std::time::Duration,
    ) -> anyhow::Result<FailedLogins>;
    /// Refuses sign-ins to `email` until `until`: from `client`, or from anyone when `None`.
    async fn lock_login<'a>(
        &self,
        email: &Email,
        client: Option<&'a str>,
        until: DateTime<Utc>,
    ) -> anyhow::Result<()>;
    /// Forgets `client`'s failures and lock for `email` (it signed in).
    async fn clear_failed_logins(&self, email: &Email, client: &str) -> anyhow::Result<()>;
    /// Forgets failures last seen before `cutoff` whose lock, if any, has ended; returns how
    /// many (email, client) counts were dropped.
    async fn forget_failed_logins(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64>;
    /// Creates an admin account, or makes an existing one admin with this password.
    async fn upsert_admin(&self, account: NewAccount) -> anyhow::Result<User>;
    /// Stores `new` as the account's password hash if it still holds `old` (a password
    /// changed meanwhile wins); whether it did.
    async fn replace_password_hash(&self, id: UserId, old: &str, new: &str)
    -> anyhow::Result<bool>;
}

/// A refresh token's stored form: its SHA-256.
pub type TokenHash = [u8; 32];

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was live; it is now spent and its replacement stored.
    Rotated { user_id: UserId, family_id: Uuid },
    /// The token had been spent already: the family is now revoked.
    Reused { family_id: Uuid },
    /// Unknown, expired, or from a revoked family.
    Invalid,
}

/// Refresh-token families (sessions).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync {
    async fn start(
        &self,
        family_id: Uuid,
        user_id: UserId,
        token: TokenHash,
        expires_at: DateTime<Utc>,
    ) -> anyhow::Result<()>;
    /// Spends `presented` and stores `replacement` in the same family, atomically.
    async fn rotate(
        &self,
        presented: TokenHash,
        replacement: TokenHash,
        expires_at: DateTime<Utc>,
    ) -> anyhow::Result<Rotation>;
    /// Ends a session: no token of the family refreshes any more. Idempotent.
    async fn revoke(&self, family_id: Uuid, reason: &str) -> anyhow::Result<()>;
    /// Sessions revoked after `since`: every one whose access tokens may still be alive.
    async fn revoked_since(&self, since: DateTime<Utc>) -> anyhow::Result<Vec<RevokedSession>>;
    /// Of those, the ones whose revocation has not reached the denylist yet.
    async fn unpublished_revocations(
        &self,
        since: DateTime<Utc>,
    ) -> anyhow::Result<Vec<RevokedSession>>;
    /// Records that these sessions' revocations are on the denylist.
    async fn mark_published(&self, family_ids: &[Uuid]) -> anyhow::Result<()>;
}

/// A revoked session and when it was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevokedSession {
    pub family_id: Uuid,
    pub revoked_at: DateTime<Utc>,
}

/// A signing key as stored.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub kid: String,
    pub private_pkcs8_der: Vec<u8>,
    pub public_key: Vec<u8>,
}

/// The token signing keys.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Creates the first key unless one exists; safe when replicas start together.
    async fn ensure_one(&self) -> anyhow::Result<()>;
    /// The key that signs now: the most recently activated one that has not retired.
    async fn current(&self) -> anyhow::Result<StoredKey>;
    /// Keys to publish: unretired (including one not yet signing), or retired less than
    /// `overlap` ago.
    async fn published(&self, overlap: std::time::Duration) -> anyhow::Result<Vec<StoredKey>>;
    /// Adds a key that is published now and signs from `publish_ahead` on, when the current
    /// one retires (it stays published for the overlap after).
    async fn rotate(&self, publish_ahead: std::time::Duration) -> anyhow::Result<StoredKey>;
}

/// Password hashing (argon2id in production; slow by design, so never on the async runtime).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait HasherPort: Send + Sync {
    async fn hash(&self, password: &Password) -> anyhow::Result<String>;
    async fn verify(&self, candidate: &str, hash: &str) -> anyhow::Result<bool>;
    /// Whether `hash` was made at today's cost; one made at another is replaced at the next
    /// sign-in that proves the password.
    fn is_current(&self, hash: &str) -> bool;
}

/// One mail to one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The event it tells of: its `Message-ID`, so a mail sent twice is one to the receiver.
    pub id: Uuid,
    pub to_name: String,
    pub to_email: String,
    pub subject: String,
    pub text: String,
}

/// Sends mail (SMTP in production).
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    /// Delivered to the server, or an error to retry later.
    async fn send(&self, mail: &Mail) -> anyhow::Result<()>;
}
