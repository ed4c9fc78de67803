//! UpdateProduct (admin): change the fields that are set.

use super::{Inventory, InventoryError, parse_id};
use crate::domain::{Product, ProductPatch};
use shop_platform::validation::Violations;

impl Inventory {
    pub async fn update_product(
        &self,
        id: &str,
        patch: Result<ProductPatch, Violations>,
    ) -> Result<Product, InventoryError> {
        let mut violations = Violations::new();
        let id = parse_id(&mut violations, "product_id", id);
        let patch = match patch {
            Ok(patch) => Some(patch),
            Err(more) => {
                for v in more {
                    violations.add(v.field, v.message);
                }
                None
            }
        };
        let (Some(id), Some(patch)) = (id, patch) else {
            return Err(violations.into());
        };
        if patch.is_empty() {
            return self.catalog.get(id).await?.ok_or(InventoryError::NotFound);
        }
        self.catalog
            .update(id, patch)
            .await?
            .ok_or(InventoryError::NotFound)
    }
}
