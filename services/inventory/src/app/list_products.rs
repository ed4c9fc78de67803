//! ListProducts: the catalog, a page at a time, optionally filtered by a text query.

use shop_platform::validation::Violations;

use super::ports::ListQuery;
use super::{Inventory, InventoryError};
use crate::domain::{ListOrder, PageToken, Product};

pub const DEFAULT_PAGE_SIZE: i64 = 20;
/// Larger requests are capped, not refused.
pub const MAX_PAGE_SIZE: i64 = 100;
const MAX_QUERY: usize = 100;

/// A page of products and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductPage {
    pub products: Vec<Product>,
    pub next_page_token: Option<String>,
}

impl Inventory {
    /// `include_inactive` is honoured only for admins (the adapter checks the role). A page
    /// token continues the order it was issued for; with another order it is refused.
    pub async fn list_products(
        &self,
        page_size: i32,
        page_token: &str,
        text: &str,
        include_inactive: bool,
        order: ListOrder,
    ) -> Result<ProductPage, InventoryError> {
        let mut violations = Violations::new();
        if page_size < 0 {
            violations.add("page_size", "must not be negative");
        }
        let after = if page_token.is_empty() {
            None
        } else {
            violations.check("page_token", PageToken::decode(page_token, order))
        };
        // The bound is on what was sent, as the API document states it.
        let too_long = text.chars().count() > MAX_QUERY;
        let text = text.trim();
        if violations.text("query", text) && too_long {
            violations.add("query", format!("must be at most {MAX_QUERY} characters"));
        }
        violations.into_result()?;

        let size = if page_size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            i64::from(page_size).min(MAX_PAGE_SIZE)
        };
        let query = ListQuery {
            after,
            limit: size + 1,
            text: (!text.is_empty()).then(|| text.to_owned()),
            include_inactive,
            order,
        };
        let mut products = self.catalog.list(&query).await?;
        let next_page_token = if products.len() > usize::try_from(size).unwrap_or(usize::MAX) {
            products.truncate(usize::try_from(size).unwrap_or(0));
            products.last().map(|last| {
                PageToken::after(order, &last.name, last.price.amount_minor, last.id).encode()
            })
        } else {
            None
        };
        Ok(ProductPage {
            products,
            next_page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::app::ports::{MockCatalogStore, MockReservationStore};
    use crate::app::testing::product;
    use crate::app::{Inventory, InventoryError};
    use crate::domain::ListOrder;

    fn inventory(catalog: MockCatalogStore) -> Inventory {
        Inventory::new(
            Arc::new(catalog),
            Arc::new(MockReservationStore::new()),
            chrono::Duration::minutes(15),
        )
    }

    #[tokio::test]
    async fn a_full_page_comes_with_a_token_for_the_next_and_sizes_are_capped() {
        let mut catalog = MockCatalogStore::new();
        catalog
            .expect_list()
            .withf(|q| q.limit == 101)
            .returning(|q| {
                Ok((0..q.limit)
                    .map(|i| product(&format!("p{i:03}"), 1))
                    .collect())
            });
        let page = inventory(catalog)
            .list_products(1000, "", "", false, ListOrder::Name)
            .await
            .unwrap();
        assert_eq!(page.products.len(), 100);
        assert!(page.next_page_token.is_some());
    }

    #[tokio::test]
    async fn a_garbage_page_token_is_invalid_argument() {
        let err = inventory(MockCatalogStore::new())
            .list_products(10, "garbage!", "", false, ListOrder::Name)
            .await
            .unwrap_err();
        assert!(matches!(err, InventoryError::Invalid(_)), "{err:?}");
    }
}
