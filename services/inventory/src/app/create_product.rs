//! CreateProduct (admin): a new catalog entry, idempotent by request id.

use shop_platform::validation::Violations;

use super::{Inventory, InventoryError, parse_id};
use crate::domain::{NewProduct, Product};

/// What an admin sends to create a product.
#[derive(Debug, Clone, Default)]
pub struct CreateProduct {
    pub request_id: String,
    pub name: String,
    pub description: String,
    pub price: Option<(i64, String)>,
    pub image_url: String,
    pub initial_stock: i64,
}

impl Inventory {
    pub async fn create_product(&self, request: CreateProduct) -> Result<Product, InventoryError> {
        let mut violations = Violations::new();
        let request_id = parse_id(&mut violations, "request_id", &request.request_id);
        let product = NewProduct::parse(
            &request.name,
            &request.description,
            request.price.as_ref().map(|(a, c)| (*a, c.as_str())),
            &request.image_url,
            request.initial_stock,
        );
        let product = match product {
            Ok(product) => Some(product),
            Err(more) => {
                for v in more {
                    violations.add(v.field, v.message);
                }
                None
            }
        };
        let (Some(request_id), Some(product)) = (request_id, product) else {
            return Err(violations.into());
        };
        Ok(self.catalog.create(request_id, product).await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::CreateProduct;
    use crate::app::ports::{MockCatalogStore, MockReservationStore};
    use crate::app::testing::product;
    use crate::app::{Inventory, InventoryError};

    #[tokio::test]
    async fn a_valid_request_is_stored_once_under_its_request_id() {
        let mut catalog = MockCatalogStore::new();
        let request_id = uuid::Uuid::now_v7();
        catalog
            .expect_create()
            .withf(move |id, p| *id == request_id && p.name == "Mug" && p.initial_stock == 3)
            .times(1)
            .returning(|_, p| Ok(product(&p.name, p.initial_stock)));
        let inventory = Inventory::new(
            Arc::new(catalog),
            Arc::new(MockReservationStore::new()),
            chrono::Duration::minutes(15),
        );
        let created = inventory
            .create_product(CreateProduct {
                request_id: request_id.to_string(),
                name: "Mug".to_owned(),
                price: Some((1299, "EUR".to_owned())),
                initial_stock: 3,
                ..CreateProduct::default()
            })
            .await
            .unwrap();
        assert_eq!(created.name, "Mug");
    }

    #[tokio::test]
    async fn invalid_fields_and_a_missing_request_id_are_all_reported() {
        let mut catalog = MockCatalogStore::new();
        catalog.expect_create().never();
        let inventory = Inventory::new(
            Arc::new(catalog),
            Arc::new(MockReservationStore::new()),
            chrono::Duration::minutes(15),
        );
        let err = inventory
            .create_product(CreateProduct::default())
            .await
            .unwrap_err();
        let InventoryError::Invalid(violations) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.clone()).collect();
        assert_eq!(fields, ["request_id", "name", "price"]);
    }
}
