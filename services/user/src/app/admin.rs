//! Operator commands: create an admin, rotate the signing key. Reachable from the CLI only,
//! never through the API.

use shop_auth::Role;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::ports::NewAccount;
use super::{UserError, Users};
use crate::domain::{DisplayName, Email, Password, User};

impl Users {
    /// Creates an admin account, or makes an existing account admin with this password.
    pub async fn create_admin(
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
            roles: vec![Role::Customer, Role::Admin],
        };
        Ok(self.users.upsert_admin(account).await?)
    }

    /// Makes a new signing key current; tokens signed by the old one stay valid until expiry.
    pub async fn rotate_signing_key(&self) -> Result<String, UserError> {
        Ok(self.keyring.rotate().await?)
    }
}
