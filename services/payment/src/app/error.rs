//! The errors of the payment use cases; mapped to gRPC codes in one place, the adapter.

use shop_platform::validation::Violations;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("no payment for this order")]
    NotFound,
    #[error("the order was already charged with a different amount")]
    AmountMismatch,
    /// The processor could not be reached in time; the call can be retried safely.
    #[error("the card processor is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<Violations> for PaymentError {
    fn from(violations: Violations) -> Self {
        Self::Invalid(violations)
    }
}
