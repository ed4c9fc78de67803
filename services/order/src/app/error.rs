//! The errors of the order use cases; mapped to gRPC codes in one place, the adapter.

use shop_platform::validation::Violations;

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("no such order")]
    NotFound,
    #[error("this idempotency key was used for a different order")]
    KeyReused,
    #[error("an order with this idempotency key is still being placed")]
    InFlight,
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller may not see or do what they asked for (another customer's orders,
    /// fulfilment).
    #[error("only admins may do this to another customer's orders")]
    Forbidden,
    /// The customer was shown another price than checkout would charge (a cart line whose
    /// price moved, or a total that is not the quote's).
    #[error("{0}")]
    PriceChanged(String),
    /// The cart cannot be checked out as it is (a product no longer sold).
    #[error("{0}")]
    CartNotOrderable(String),
    /// The order has left the warehouse: it can no longer be cancelled.
    #[error("{0}")]
    AlreadyShipped(String),
    /// A fulfilment step that does not follow from the order's status.
    #[error("{reason}: {message}")]
    NotFulfillable {
        reason: &'static str,
        message: String,
    },
    /// A peer the use case reads did not answer; worth retrying.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<Violations> for OrderError {
    fn from(violations: Violations) -> Self {
        Self::Invalid(violations)
    }
}
