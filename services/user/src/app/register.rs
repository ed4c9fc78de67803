//! Register: create a customer account.

use shop_auth::Role;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::ports::{CreateError, NewAccount};
use super::{UserError, Users};
use crate::domain::{DisplayName, Email, Password, User};

impl Users {
    /// Creates a customer account and announces it (`user.registered`, through the outbox).
    ///
    /// The password is hashed before the email is looked up, so a taken email costs what a
    /// free one costs: the gateway answers both alike, and their timing must not differ either.
    #[tracing::instrument(name = "users.register", skip_all, err(Debug))]
    pub async fn register(
        &self,
        email: &str,
        password: String,
        name: &str,
    ) -> Result<User, UserError> {
        let mut violations = Violations::new();
        let email = violations.check("email", Email::parse(email));
        let password = violations.check("password", Password::parse(password));
        let name = violations.check("name", DisplayName::parse(name));
        let (Some(email), Some(password), Some(name)) = (email, password, name) else {
            return Err(UserError::Invalid(violations));
        };

        let password_hash = self.hasher.hash(&password).await?;
        let account = NewAccount {
            id: Uuid::now_v7(),
            email,
            name,
            password_hash,
            roles: vec![Role::Customer],
        };
        match self.users.create(account).await {
            Ok(user) => {
                metrics::counter!("users_registered_total").increment(1);
                Ok(user)
            }
            Err(CreateError::EmailTaken) => Err(UserError::EmailTaken),
            Err(CreateError::Unexpected(err)) => Err(UserError::Unexpected(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::app::UserError;
    use crate::app::ports::CreateError;
    use crate::app::testing::{Fixture, user};

    #[tokio::test]
    async fn a_valid_registration_hashes_the_password_and_stores_a_customer() {
        let mut f = Fixture::new();
        f.hasher
            .expect_hash()
            .returning(|_| Ok("$argon2id$hash".to_owned()));
        f.users
            .expect_create()
            .withf(|account| {
                account.email.as_str() == "ann@example.com"
                    && account.password_hash == "$argon2id$hash"
                    && account.roles == vec![shop_auth::Role::Customer]
            })
            .returning(|account| Ok(user(account.id, account.email.as_str())));

        let created = f
            .app()
            .register(" Ann@Example.com ", "long enough Pass1".to_owned(), "Ann")
            .await
            .unwrap();
        assert_eq!(created.email.as_str(), "ann@example.com");
    }

    #[tokio::test]
    async fn every_invalid_field_is_reported_and_nothing_is_hashed_or_stored() {
        let f = Fixture::new();
        let err = f
            .app()
            .register("", "short".to_owned(), " ")
            .await
            .unwrap_err();
        let UserError::Invalid(violations) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["email", "password", "name"]);
    }

    #[tokio::test]
    async fn a_taken_email_costs_the_same_hash_and_is_reported_to_the_caller() {
        // The edge answers both cases alike; the hash keeps their timing alike too.
        let mut f = Fixture::new();
        f.hasher
            .expect_hash()
            .times(1)
            .returning(|_| Ok("h".to_owned()));
        f.users
            .expect_create()
            .returning(|_| Err(CreateError::EmailTaken));
        let err = f
            .app()
            .register("ann@example.com", "long enough Pass1".to_owned(), "Ann")
            .await
            .unwrap_err();
        assert!(matches!(err, UserError::EmailTaken), "{err:?}");
    }
}
