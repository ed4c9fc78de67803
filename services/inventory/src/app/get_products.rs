//! GetProduct and BatchGetProducts: catalog reads (the catalog adapter caches them).

use shop_platform::validation::Violations;
use uuid::Uuid;

use super::{Inventory, InventoryError, parse_id};
use crate::domain::Product;

/// The most ids one BatchGetProducts may ask for.
pub const MAX_BATCH: usize = 100;

impl Inventory {
    pub async fn get_product(&self, id: &str) -> Result<Product, InventoryError> {
        let mut violations = Violations::new();
        let id = parse_id(&mut violations, "product_id", id);
        let Some(id) = id else {
            return Err(violations.into());
        };
        self.catalog.get(id).await?.ok_or(InventoryError::NotFound)
    }

    /// Unknown ids are left out; the order of `ids` is kept.
    pub async fn batch_get_products(&self, ids: &[String]) -> Result<Vec<Product>, InventoryError> {
        let mut violations = Violations::new();
        if ids.len() > MAX_BATCH {
            violations.add("product_ids", format!("at most {MAX_BATCH} ids per call"));
        }
        let parsed: Vec<Uuid> = ids
            .iter()
            .enumerate()
            .filter_map(|(i, raw)| parse_id(&mut violations, &format!("product_ids[{i}]"), raw))
            .collect();
        violations.into_result()?;
        let found = self.catalog.batch_get(&parsed).await?;
        Ok(parsed
            .iter()
            .filter_map(|id| found.iter().find(|p| p.id == *id).cloned())
            .collect())
    }
}
