//! Login: exchange email and password for a token pair, with brute-force protection.

use chrono::Utc;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::ports::Credentials;
use super::tokens::new_refresh_token;
use super::{TokenPair, UserError, Users};
use crate::domain::{Email, LoginThrottle, Password, check_login_password};

/// How long failed sign-ins are remembered.
const FAILURE_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

impl Users {
    /// Checks the credentials and starts a session. A wrong email and a wrong password are the
    /// same error and take the same time, and are throttled alike: failures count per email and
    /// client (`client`: the caller's address as the edge saw it), so a stranger guessing slows
    /// down only themselves, with a ten times higher ceiling per email from everyone together
    /// against guessing from many addresses (OWASP's authentication guidance).
    #[tracing::instrument(name = "users.login", skip_all, err(Debug))]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> Result<TokenPair, UserError> {
        let mut violations = Violations::new();
        let email = violations.check("email", Email::parse(email));
        violations.check("password", check_login_password(password));
        let Some(email) = email.filter(|_| violations.is_empty()) else {
            return Err(UserError::Invalid(violations));
        };
        let client = if client.is_empty() { "unknown" } else { client };

        let now = Utc::now();
        if let Some(until) = self
            .users
            .login_locked_until(&email, client)
            .await?
            .filter(|until| *until > now)
        {
            metrics::counter!("users_logins_total", "outcome" => "throttled").increment(1);
            let retry_after = (until - now).to_std().unwrap_or_default();
            return Err(UserError::LockedOut { retry_after });
        }

        let credentials = self.users.credentials_by_email(&email).await?;
        let verified = match &credentials {
            None => {
                self.waste_a_verification(password).await?;
                false
            }
            Some(credentials) => {
                self.hasher
                    .verify(password, &credentials.password_hash)
                    .await?
            }
        };
        let Some(credentials) = credentials.filter(|_| verified) else {
            let failures = self
                .users
                .record_failed_login(&email, client, FAILURE_WINDOW)
                .await?;
            if let Some(until) = self.throttle.locked_until(failures.from_client, now) {
                self.users.lock_login(&email, Some(client), until).await?;
            }
            if let Some(until) = self
                .account_throttle()
                .locked_until(failures.from_anyone, now)
            {
                self.users.lock_login(&email, None, until).await?;
            }
            metrics::counter!("users_logins_total", "outcome" => "wrong_credentials").increment(1);
            return Err(UserError::InvalidCredentials);
        };

        self.rehash_if_outdated(&credentials, password).await;
        let user = credentials.user;
        self.users.clear_failed_logins(&email, client).await?;
        let family_id = Uuid::now_v7();
        let (refresh_token, refresh_hash) = new_refresh_token()?;
        self.sessions
            .start(family_id, user.id, refresh_hash, self.refresh_expiry())
            .await?;
        metrics::counter!("users_logins_total", "outcome" => "ok").increment(1);
        self.pair(&user, family_id, refresh_token).await
    }

    /// Drops failure counts older than the counting window (they would start again at one
    /// anyway), so emails sprayed by a guesser do not pile up; returns how many went.
    pub async fn forget_old_failed_logins(&self) -> Result<u64, UserError> {
        let window = chrono::Duration::from_std(FAILURE_WINDOW).unwrap_or_default();
        Ok(self.users.forget_failed_logins(Utc::now() - window).await?)
    }

    /// The ceiling for one email from every client together: ten times the free failures of
    /// one client, then the same doubling waits.
    fn account_throttle(&self) -> LoginThrottle {
        LoginThrottle {
            free_failures: self.throttle.free_failures.saturating_mul(10),
            ..self.throttle
        }
    }

    /// Replaces a hash made at an earlier cost, now that the password is proven: the only
    /// moment the password is at hand. A failure here costs the customer nothing (the old
    /// hash still verifies) and is tried again at the next sign-in.
    async fn rehash_if_outdated(&self, credentials: &Credentials, password: &str) {
        if self.hasher.is_current(&credentials.password_hash) {
            return;
        }
        // A password set under an older policy, which today's would refuse, keeps its hash:
        // hashing takes only passwords that meet the policy.
        let Ok(password) = Password::parse(password.to_owned()) else {
            return;
        };
        let replaced = async {
            let hash = self.hasher.hash(&password).await?;
            self.users
                .replace_password_hash(credentials.user.id, &credentials.password_hash, &hash)
                .await
        }
        .await;
        match replaced {
            Ok(true) => {
                metrics::counter!("users_password_rehashes_total").increment(1);
                tracing::info!(user_id = %credentials.user.id, "password hash moved to today's cost");
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(
                user_id = %credentials.user.id,
                error = format!("{err:#}"),
                "could not move the password hash to today's cost; it still verifies"
            ),
        }
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
    use crate::app::ports::{Credentials, FailedLogins};
    use crate::app::testing::{Fixture, user};

    fn credentials() -> Credentials {
        Credentials {
            user: user(uuid::Uuid::now_v7(), "ann@example.com"),
            password_hash: "$argon2id$stored".to_owned(),
        }
    }

    fn not_locked(f: &mut Fixture) {
        f.users
            .expect_login_locked_until()
            .returning(|_, _| Ok(None));
    }

    /// Not locked, the account found, the password right: what every sign-in that succeeds
    /// needs. Returns the account.
    fn right_password(f: &mut Fixture) -> Credentials {
        not_locked(f);
        let account = credentials();
        let found = account.clone();
        f.users
            .expect_credentials_by_email()
            .returning(move |_| Ok(Some(found.clone())));
        f.hasher.expect_verify().returning(|_, _| Ok(true));
        account
    }

    #[tokio::test]
    async fn the_right_password_starts_a_session_and_returns_a_signed_pair() {
        let mut f = Fixture::new();
        right_password(&mut f);
        f.hasher.expect_is_current().returning(|_| true);
        f.hasher.expect_hash().never();
        f.users
            .expect_clear_failed_logins()
            .withf(|_, client| client == "203.0.113.7")
            .times(1)
            .returning(|_, _| Ok(()));
        f.sessions
            .expect_start()
            .times(1)
            .returning(|_, _, _, _| Ok(()));

        let pair = f
            .app()
            .login("ann@example.com", "whatever it is", "203.0.113.7")
            .await
            .unwrap();
        assert_eq!(pair.access_token.split('.').count(), 3, "a JWS");
        assert!(pair.refresh_token.len() >= 43, "256 random bits");
    }

    /// A sign-in with the right password against a hash made at an earlier cost; `stored` is
    /// what storing the new hash answers.
    async fn sign_in_over_an_outdated_hash(
        stored: anyhow::Result<bool>,
    ) -> (Result<crate::app::TokenPair, UserError>, usize) {
        let mut f = Fixture::new();
        let id = right_password(&mut f).user.id;
        f.hasher
            .expect_is_current()
            .withf(|hash| hash == "$argon2id$stored")
            .returning(|_| false);
        let hashes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = hashes.clone();
        f.hasher.expect_hash().returning(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok("$argon2id$today".to_owned())
        });
        let mut stored = Some(stored);
        f.users
            .expect_replace_password_hash()
            .withf(move |user, old, new| {
                *user == id && old == "$argon2id$stored" && new == "$argon2id$today"
            })
            .returning(move |_, _, _| stored.take().unwrap());
        f.users
            .expect_clear_failed_logins()
            .returning(|_, _| Ok(()));
        f.sessions.expect_start().returning(|_, _, _, _| Ok(()));
        let signed_in = f
            .app()
            .login("ann@example.com", "correct horse battery", "203.0.113.7")
            .await;
        (signed_in, hashes.load(std::sync::atomic::Ordering::SeqCst))
    }

    #[tokio::test]
    async fn a_hash_made_at_an_earlier_cost_is_replaced_once_the_password_is_proven() {
        let (signed_in, hashes) = sign_in_over_an_outdated_hash(Ok(true)).await;
        assert!(signed_in.is_ok());
        assert_eq!(hashes, 1);
    }

    #[tokio::test]
    async fn failing_to_replace_an_outdated_hash_still_signs_the_customer_in() {
        let (signed_in, hashes) =
            sign_in_over_an_outdated_hash(Err(anyhow::anyhow!("the database went away"))).await;
        assert!(signed_in.is_ok());
        assert_eq!(hashes, 1);
    }

    #[tokio::test]
    async fn a_password_todays_policy_refuses_keeps_its_outdated_hash() {
        // Shorter than today's twelve characters: set under an older policy.
        let mut f = Fixture::new();
        right_password(&mut f);
        f.hasher.expect_is_current().returning(|_| false);
        f.hasher.expect_hash().never();
        f.users.expect_replace_password_hash().never();
        f.users
            .expect_clear_failed_logins()
            .returning(|_, _| Ok(()));
        f.sessions.expect_start().returning(|_, _, _, _| Ok(()));
        assert!(
            f.app()
                .login("ann@example.com", "short", "203.0.113.7")
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn a_wrong_password_locks_out_that_client_after_the_free_failures_not_everyone() {
        let mut f = Fixture::new();
        not_locked(&mut f);
        f.users
            .expect_credentials_by_email()
            .returning(|_| Ok(Some(credentials())));
        f.hasher.expect_verify().returning(|_, _| Ok(false));
        f.users
            .expect_record_failed_login()
            .times(1)
            .returning(|_, _, _| {
                Ok(FailedLogins {
                    from_client: 6,
                    from_anyone: 6,
                })
            });
        f.users
            .expect_lock_login()
            .withf(|_, client, _| *client == Some("203.0.113.7"))
            .times(1)
            .returning(|_, _, _| Ok(()));

        let err = f
            .app()
            .login("ann@example.com", "wrong", "203.0.113.7")
            .await
            .unwrap_err();
        assert!(matches!(err, UserError::InvalidCredentials), "{err:?}");
    }

    #[tokio::test]
    async fn a_locked_account_is_refused_before_the_password_is_checked() {
        let mut f = Fixture::new();
        let until = Utc::now() + chrono::Duration::seconds(30);
        f.users
            .expect_login_locked_until()
            .returning(move |_, _| Ok(Some(until)));
        f.users.expect_credentials_by_email().never();
        f.hasher.expect_verify().never();

        let err = f
            .app()
            .login("ann@example.com", "right or wrong", "203.0.113.7")
            .await
            .unwrap_err();
        let UserError::LockedOut { retry_after } = err else {
            panic!("{err:?}")
        };
        assert!(retry_after.as_secs() <= 30 && retry_after.as_secs() >= 28);
    }

    #[tokio::test]
    async fn an_unknown_email_costs_a_verification_and_counts_like_a_wrong_password() {
        let mut f = Fixture::new();
        not_locked(&mut f);
        f.users
            .expect_record_failed_login()
            .times(1)
            .returning(|_, _, _| {
                Ok(FailedLogins {
                    from_client: 1,
                    from_anyone: 1,
                })
            });
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
            .login("nobody@example.com", "guess", "203.0.113.7")
            .await
            .unwrap_err();
        assert!(matches!(err, UserError::InvalidCredentials), "{err:?}");
    }

    #[tokio::test]
    async fn empty_or_huge_input_is_invalid_not_unauthenticated() {
        let app = Fixture::new().app();
        let err = app.login("", "", "").await.unwrap_err();
        let UserError::Invalid(violations) = err else {
            panic!("{err:?}")
        };
        assert_eq!(violations.iter().count(), 2);
        let err = app
            .login("ann@example.com", &"x".repeat(10_000_000), "")
            .await
            .unwrap_err();
        assert!(matches!(err, UserError::Invalid(_)), "{err:?}");
    }
}
