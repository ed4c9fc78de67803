//! Login: exchange email and password for a token pair, with brute-force protection.

use chrono::Utc;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::tokens::new_refresh_token;
use super::{TokenPair, UserError, Users};
use crate::domain::{Email, Password, check_login_password};

impl Users {
    /// Checks the credentials and starts a session. A wrong email and a wrong password are the
    /// same error and take the same time; an account that failed too often must wait.
    #[tracing::instrument(name = "users.login", skip_all, err(Debug))]
    pub async fn login(&self, email: &str, password: &str) -> Result<TokenPair, UserError> {
        let mut violations = Violations::new();
        let email = violations.check("email", Email::parse(email));
        violations.check("password", check_login_password(password));
        let Some(email) = email.filter(|_| violations.is_empty()) else {
            return Err(UserError::Invalid(violations));
        };

        let Some(credentials) = self.users.credentials_by_email(&email).await? else {
            self.waste_a_verification(password).await?;
            metrics::counter!("users_logins_total", "outcome" => "unknown_email").increment(1);
            return Err(UserError::InvalidCredentials);
        };
        let now = Utc::now();
        if let Some(until) = credentials.locked_until.filter(|until| *until > now) {
            metrics::counter!("users_logins_total", "outcome" => "throttled").increment(1);
            let retry_after = (until - now).to_std().unwrap_or_default();
            return Err(UserError::LockedOut { retry_after });
        }

        let user = credentials.user;
        if !self
            .hasher
            .verify(password, &credentials.password_hash)
            .await?
        {
            let failures = self.users.record_failed_login(user.id).await?;
            if let Some(until) = self.throttle.locked_until(failures, now) {
                self.users.lock_until(user.id, until).await?;
            }
            metrics::counter!("users_logins_total", "outcome" => "wrong_password").increment(1);
            return Err(UserError::InvalidCredentials);
        }

        self.users.record_successful_login(user.id).await?;
        let family_id = Uuid::now_v7();
        let (refresh_token, refresh_hash) = new_refresh_token()?;
        self.sessions
            .start(family_id, user.id, refresh_hash, self.refresh_expiry())
            .await?;
        metrics::counter!("users_logins_total", "outcome" => "ok").increment(1);
        self.pair(&user, family_id, refresh_token).await
    }

    /// Verifies against a decoy hash, so an unknown email costs what a wrong password costs.
    async fn waste_a_verification(&self, password: &str) -> Result<(), UserError> {
        let decoy = self
            .decoy_hash
            .get_or_try_init(|| async {
                let decoy =
                    Password::parse(format!("Decoy-{}", shop_auth::keys::random_token(24)?))
                        .map_err(|err| anyhow::anyhow!("decoy password: {err}"))?;
                self.hasher.hash(&decoy).await
            })
            .await?;
        let _ = self.hasher.verify(password, decoy).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use crate::app::UserError;
    use crate::app::ports::Credentials;
    use crate::app::testing::{Fixture, user};

    fn credentials(locked_until: Option<chrono::DateTime<Utc>>) -> Credentials {
        Credentials {
            user: user(uuid::Uuid::now_v7(), "ann@example.com"),
            password_hash: "$argon2id$stored".to_owned(),
            locked_until,
        }
    }

    #[tokio::test]
    async fn the_right_password_starts_a_session_and_returns_a_signed_pair() {
        let mut f = Fixture::new();
        f.users
            .expect_credentials_by_email()
            .returning(|_| Ok(Some(credentials(None))));
        f.hasher.expect_verify().returning(|_, _| Ok(true));
        f.users
            .expect_record_successful_login()
            .times(1)
            .returning(|_| Ok(()));
        f.sessions
            .expect_start()
            .times(1)
            .returning(|_, _, _, _| Ok(()));

        let pair = f
            .app()
            .login("ann@example.com", "whatever it is")
            .await
            .unwrap();
        assert_eq!(pair.access_token.split('.').count(), 3, "a JWS");
        assert!(pair.refresh_token.len() >= 43, "256 random bits");
    }

    #[tokio::test]
    async fn a_wrong_password_counts_a_failure_and_locks_after_the_free_ones() {
        let mut f = Fixture::new();
        f.users
            .expect_credentials_by_email()
            .returning(|_| Ok(Some(credentials(None))));
        f.hasher.expect_verify().returning(|_, _| Ok(false));
        f.users
            .expect_record_failed_login()
            .times(1)
            .returning(|_| Ok(6));
        f.users
            .expect_lock_until()
            .times(1)
            .returning(|_, _| Ok(()));

        let err = f.app().login("ann@example.com", "wrong").await.unwrap_err();
        assert!(matches!(err, UserError::InvalidCredentials), "{err:?}");
    }

    #[tokio::test]
    async fn a_locked_account_is_refused_before_the_password_is_checked() {
        let mut f = Fixture::new();
        let until = Utc::now() + chrono::Duration::seconds(30);
        f.users
            .expect_credentials_by_email()
            .returning(move |_| Ok(Some(credentials(Some(until)))));
        f.hasher.expect_verify().never();

        let err = f
            .app()
            .login("ann@example.com", "right or wrong")
            .await
            .unwrap_err();
        let UserError::LockedOut { retry_after } = err else {
            panic!("{err:?}")
        };
        assert!(retry_after.as_secs() <= 30 && retry_after.as_secs() >= 28);
    }

    #[tokio::test]
    async fn an_unknown_email_costs_a_verification_and_says_the_same_as_a_wrong_password() {
        let mut f = Fixture::new();
        f.users
            .expect_credentials_by_email()
            .returning(|_| Ok(None));
        f.hasher
            .expect_hash()
            .times(1)
            .returning(|_| Ok("$argon2id$decoy".to_owned()));
        f.hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Ok(false));

        let err = f
            .app()
            .login("nobody@example.com", "guess")
            .await
            .unwrap_err();
        assert!(matches!(err, UserError::InvalidCredentials), "{err:?}");
    }

    #[tokio::test]
    async fn empty_or_huge_input_is_invalid_not_unauthenticated() {
        let app = Fixture::new().app();
        let err = app.login("", "").await.unwrap_err();
        let UserError::Invalid(violations) = err else {
            panic!("{err:?}")
        };
        assert_eq!(violations.iter().count(), 2);
        let err = app
            .login("ann@example.com", &"x".repeat(10_000_000))
            .await
            .unwrap_err();
        assert!(matches!(err, UserError::Invalid(_)), "{err:?}");
    }
}
