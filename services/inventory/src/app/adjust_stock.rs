//! AdjustStock (admin): receive goods or write them off, once per request id.

use shop_platform::validation::Violations;

use super::ports::AdjustError;
use super::{Inventory, InventoryError, parse_id};
use crate::domain::Product;

/// The largest single delivery or write-off.
pub const MAX_ADJUSTMENT: u64 = 1_000_000;

impl Inventory {
    pub async fn adjust_stock(
        &self,
        request_id: &str,
        product_id: &str,
        delta: i64,
    ) -> Result<Product, InventoryError> {
        let mut violations = Violations::new();
        let request_id = parse_id(&mut violations, "request_id", request_id);
        let product_id = parse_id(&mut violations, "product_id", product_id);
        if delta == 0 {
            violations.add("delta", "must not be zero");
        } else if delta.unsigned_abs() > MAX_ADJUSTMENT {
            violations.add(
                "delta",
                format!("must be between -{MAX_ADJUSTMENT} and {MAX_ADJUSTMENT}"),
            );
        }
        let (Some(request_id), Some(product_id)) = (request_id, product_id) else {
            return Err(violations.into());
        };
        violations.into_result()?;
        match self
            .catalog
            .adjust_stock(request_id, product_id, delta)
            .await
        {
            Ok(product) => Ok(product),
            Err(AdjustError::NotFound) => Err(InventoryError::NotFound),
            Err(AdjustError::Insufficient {
                available,
                requested,
            }) => Err(InventoryError::FailedPrecondition(format!(
                "only {available} available; cannot write off {requested}"
            ))),
            Err(AdjustError::Unexpected(err)) => Err(InventoryError::Unexpected(err)),
        }
    }
}
