//! GetJwks: the public keys that verify our tokens.

use shop_auth::PublicJwk;

use super::{UserError, Users};

impl Users {
    pub async fn jwks(&self) -> Result<Vec<PublicJwk>, UserError> {
        Ok(self.keyring.jwks().await?)
    }
}
