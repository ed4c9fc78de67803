//! Accounts in Postgres; registration writes `user.registered` to the outbox in the same
//! transaction.

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shop_auth::Role;
use shop_events::user::UserRegistered;
use shop_messaging::OutboxWriter;
use shop_platform::postgres::is_unique_violation;
use sqlx::{FromRow, PgPool};

use crate::app::ports::{CreateError, Credentials, FailedLogins, NewAccount, UserStore};
use crate::domain::{Email, User, UserId};

/// The `client` of the row that counts an email's failures from every client together.
const ANYONE: &str = "*";

#[derive(Debug, Clone)]
pub struct PgUserStore {
    pool: PgPool,
    outbox: OutboxWriter,
}

impl PgUserStore {
    pub fn new(pool: PgPool, outbox: OutboxWriter) -> Self {
        Self { pool, outbox }
    }
}

#[derive(FromRow)]
struct UserRow {
    id: UserId,
    email: String,
    name: String,
    roles: Vec<String>,
    created_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

impl TryFrom<UserRow> for User {
    type Error = anyhow::Error;

    fn try_from(row: UserRow) -> anyhow::Result<Self> {
        let email = Email::parse(&row.email)
            .map_err(|err| anyhow::anyhow!("stored email {:?}: {err}", row.email))?;
        Ok(Self {
            id: row.id,
            email,
            name: row.name,
            // An unknown stored role grants nothing rather than failing the read.
            roles: row.roles.iter().filter_map(|r| Role::parse(r)).collect(),
            created_at: row.created_at,
        })
    }
}

fn role_names(roles: &[Role]) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

#[async_trait]
impl UserStore for PgUserStore {
    #[tracing::instrument(name = "users.create", skip_all, err)]
    async fn create(&self, account: NewAccount) -> Result<User, CreateError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        let inserted = sqlx::query_as::<_, UserRow>(
            "INSERT INTO users (id, email, name, password_hash, roles) VALUES ($1, $2, $3, $4, $5) \
             RETURNING id, email, name, roles, created_at",
        )
        .bind(account.id)
        .bind(account.email.as_str())
        .bind(account.name.as_str())
        .bind(&account.password_hash)
        .bind(role_names(&account.roles))
        .fetch_one(&mut *tx)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(err) if is_unique_violation(&err, "users_email_key") => {
                return Err(CreateError::EmailTaken);
            }
            Err(err) => return Err(anyhow::Error::new(err).context("inserting the user").into()),
        };
        let user = User::try_from(row)?;
        self.outbox
            .append(
                &mut tx,
                UserRegistered {
                    user_id: user.id,
                    email: user.email.to_string(),
                    name: user.name.clone(),
                    registered_at: user.created_at,
                },
            )
            .await
            .context("writing user.registered to the outbox")?;
        tx.commit().await.context("committing the registration")?;
        Ok(user)
    }

    async fn credentials_by_email(&self, email: &Email) -> anyhow::Result<Option<Credentials>> {
        let row = sqlx::query_as::<_, CredentialsRow>(
            "SELECT id, email, name, roles, created_at, password_hash \
             FROM users WHERE lower(email) = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await
        .context("reading credentials")?;
        row.map(|row| {
            Ok(Credentials {
                user: User::try_from(row.user)?,
                password_hash: row.password_hash,
            })
        })
        .transpose()
    }

    async fn by_id(&self, id: UserId) -> anyhow::Result<Option<User>> {
        sqlx::query_as::<_, UserRow>(
            "SELECT id, email, name, roles, created_at FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading the user")?
        .map(User::try_from)
        .transpose()
    }

    async fn login_locked_until(
        &self,
        email: &Email,
        client: &str,
    ) -> anyhow::Result<Option<DateTime<Utc>>> {
        sqlx::query_scalar(
            "SELECT max(locked_until) FROM login_failures \
             WHERE email = $1 AND client IN ($2, $3)",
        )
        .bind(email.as_str())
        .bind(client)
        .bind(ANYONE)
        .fetch_one(&self.pool)
        .await
        .context("reading login locks")
    }

    async fn record_failed_login(
        &self,
        email: &Email,
        client: &str,
        window: std::time::Duration,
    ) -> anyhow::Result<FailedLogins> {
        // One row per (email, client) and one per email for everyone (`*`); a failure after a
        // quiet window starts the count again.
        let counts: Vec<(String, i32)> = sqlx::query_as(
            "INSERT INTO login_failures (email, client, failures, last_failure) \
             SELECT $1, client, 1, now() FROM unnest(ARRAY[$2, $3]) AS client \
             ON CONFLICT (email, client) DO UPDATE SET \
                 failures = CASE WHEN login_failures.last_failure < now() - make_interval(secs => $4) \
                                 THEN 1 ELSE login_failures.failures + 1 END, \
                 locked_until = CASE WHEN login_failures.last_failure < now() - make_interval(secs => $4) \
                                 THEN NULL ELSE login_failures.locked_until END, \
                 last_failure = now() \
             RETURNING client, failures",
        )
        .bind(email.as_str())
        .bind(client)
        .bind(ANYONE)
        .bind(window.as_secs_f64())
        .fetch_all(&self.pool)
        .await
        .context("counting a failed login")?;
        let count = |who: &str| {
            counts
                .iter()
                .find(|(c, _)| c == who)
                .map_or(0, |(_, n)| u32::try_from(*n).unwrap_or(0))
        };
        Ok(FailedLogins {
            from_client: count(client),
            from_anyone: count(ANYONE),
        })
    }

    async fn lock_login<'a>(
        &self,
        email: &Email,
        client: Option<&'a str>,
        until: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        sqlx::query("UPDATE login_failures SET locked_until = $3 WHERE email = $1 AND client = $2")
            .bind(email.as_str())
            .bind(client.unwrap_or(ANYONE))
            .bind(until)
            .execute(&self.pool)
            .await
            .context("locking logins")?;
        Ok(())
    }

    async fn forget_failed_logins(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        let forgotten = sqlx::query(
            "DELETE FROM login_failures WHERE last_failure < $1 \
               AND (locked_until IS NULL OR locked_until < now())",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await
        .context("forgetting old failed logins")?;
        Ok(forgotten.rows_affected())
    }

    async fn clear_failed_logins(&self, email: &Email, client: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE email = $1 AND client = $2")
            .bind(email.as_str())
            .bind(client)
            .execute(&self.pool)
            .await
            .context("clearing failed logins")?;
        Ok(())
    }

    async fn upsert_admin(&self, account: NewAccount) -> anyhow::Result<User> {
        let row = sqlx::query_as::<_, UserRow>(
            "INSERT INTO users (id, email, name, password_hash, roles) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (lower(email)) DO UPDATE SET \
                 password_hash = EXCLUDED.password_hash, \
                 roles = ARRAY(SELECT DISTINCT unnest(users.roles || EXCLUDED.roles)), \
                 updated_at = now() \
             RETURNING id, email, name, roles, created_at",
        )
        .bind(account.id)
        .bind(account.email.as_str())
        .bind(account.name.as_str())
        .bind(&account.password_hash)
        .bind(role_names(&account.roles))
        .fetch_one(&self.pool)
        .await
        .context("creating or promoting the admin")?;
        User::try_from(row)
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        old: &str,
        new: &str,
    ) -> anyhow::Result<bool> {
        let replaced = sqlx::query(
            "UPDATE users SET password_hash = $3, updated_at = now() \
             WHERE id = $1 AND password_hash = $2",
        )
        .bind(id)
        .bind(old)
        .bind(new)
        .execute(&self.pool)
        .await
        .context("replacing the password hash")?;
        Ok(replaced.rows_affected() == 1)
    }
}
