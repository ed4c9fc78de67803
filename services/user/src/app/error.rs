//! The errors of the user service's use cases; mapped to gRPC codes in one place, the adapter.

use std::time::Duration;

use shop_platform::validation::Violations;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("too many failed logins; retry in {retry_after:?}")]
    LockedOut { retry_after: Duration },
    #[error("the refresh token is not valid")]
    InvalidRefreshToken,
    #[error("no such user")]
    NotFound,
    #[error("unknown client or wrong secret")]
    InvalidClientCredentials,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
