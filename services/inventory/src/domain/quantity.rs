//! How many units of a product: at least one, and not absurd.

/// The most units of one product in one order or one stock adjustment.
pub const MAX_QUANTITY: i64 = 10_000;

/// A positive number of units, at most [`MAX_QUANTITY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("must be at least 1")]
    NotPositive,
    #[error("must be at most {MAX_QUANTITY}")]
    TooLarge,
}

impl Quantity {
    pub fn new(units: i64) -> Result<Self, QuantityError> {
        if units < 1 {
            Err(QuantityError::NotPositive)
        } else if units > MAX_QUANTITY {
            Err(QuantityError::TooLarge)
        } else {
            Ok(Self(units))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}
