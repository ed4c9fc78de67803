//! The errors of the inventory use cases; mapped to gRPC codes in one place, the adapter.

use shop_platform::validation::Violations;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("no such product")]
    NotFound,
    #[error("product {0} does not exist or is not for sale")]
    UnknownProduct(Uuid),
    #[error("product {0} is out of stock")]
    OutOfStock(Uuid),
    #[error("{0}")]
    FailedPrecondition(String),
    /// The order's total would be above [`crate::domain::MAX_ORDER_TOTAL_MINOR`].
    #[error("the order total is above the largest the shop accepts")]
    OrderTooLarge,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<Violations> for InventoryError {
    fn from(violations: Violations) -> Self {
        Self::Invalid(violations)
    }
}
