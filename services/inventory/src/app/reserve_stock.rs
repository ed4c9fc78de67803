//! ReserveStock (saga step): hold every line of an order, or none, and price them.

use shop_platform::validation::Violations;
use uuid::Uuid;

use super::ports::ReserveError;
use super::{Inventory, InventoryError, parse_id};
use crate::domain::{Quantity, RequestedLine, Reservation, ReservationError};

/// The most distinct products in one order.
pub const MAX_LINES: usize = 50;

impl Inventory {
    #[tracing::instrument(
        name = "inventory.reserve_stock",
        skip_all,
        fields(order_id),
        err(Debug)
    )]
    pub async fn reserve_stock(
        &self,
        order_id: &str,
        lines: &[(String, i64)],
    ) -> Result<Reservation, InventoryError> {
        self.flagged_latency().await;
        let mut violations = Violations::new();
        let order_id = parse_id(&mut violations, "order_id", order_id);
        if lines.is_empty() {
            violations.add("lines", "must not be empty");
        } else if lines.len() > MAX_LINES {
            violations.add("lines", format!("at most {MAX_LINES} lines"));
        }
        let mut requested = Vec::with_capacity(lines.len());
        for (i, (product_id, quantity)) in lines.iter().enumerate() {
            let product_id = parse_id(
                &mut violations,
                &format!("lines[{i}].product_id"),
                product_id,
            );
            let quantity =
                violations.check(&format!("lines[{i}].quantity"), Quantity::new(*quantity));
            if let (Some(product_id), Some(quantity)) = (product_id, quantity) {
                requested.push(RequestedLine {
                    product_id,
                    quantity,
                });
            }
        }
        let Some(order_id) = order_id else {
            return Err(violations.into());
        };
        violations.into_result()?;
        tracing::Span::current().record("order_id", tracing::field::display(order_id));

        let product_ids: Vec<Uuid> = requested.iter().map(|l| l.product_id).collect();
        match self
            .reservations
            .reserve(order_id, requested, self.reservation_ttl)
            .await
        {
            Ok(reservation) => {
                self.catalog.invalidate(&product_ids).await;
                metrics::counter!("inventory_reservations_total", "outcome" => "reserved")
                    .increment(1);
                Ok(reservation)
            }
            Err(ReserveError::Rule(rule)) => {
                let outcome = match &rule {
                    ReservationError::OutOfStock(_) => "out_of_stock",
                    _ => "refused",
                };
                metrics::counter!("inventory_reservations_total", "outcome" => outcome)
                    .increment(1);
                Err(match rule {
                    ReservationError::OutOfStock(id) => InventoryError::OutOfStock(id),
                    ReservationError::UnknownProduct(id) => InventoryError::UnknownProduct(id),
                    ReservationError::DuplicateProduct(id) => InventoryError::Invalid(
                        Violations::single("lines", format!("product {id} appears twice")),
                    ),
                    ReservationError::NoLines => {
                        InventoryError::Invalid(Violations::single("lines", "must not be empty"))
                    }
                    ReservationError::TotalTooLarge => InventoryError::OrderTooLarge,
                    ReservationError::DifferentLines => InventoryError::FailedPrecondition(
                        "this order was already reserved with other lines".to_owned(),
                    ),
                    ReservationError::Inconsistent(detail) => {
                        InventoryError::Unexpected(anyhow::anyhow!(detail))
                    }
                })
            }
            Err(ReserveError::Unexpected(err)) => Err(InventoryError::Unexpected(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::app::ports::{MockCatalogStore, MockReservationStore, ReserveError};
    use crate::app::{Inventory, InventoryError};
    use crate::domain::ReservationError;

    #[tokio::test]
    async fn out_of_stock_names_the_product_and_nothing_is_invalidated() {
        let missing = uuid::Uuid::now_v7();
        let mut reservations = MockReservationStore::new();
        reservations.expect_reserve().returning(move |_, _, _| {
            Err(ReserveError::Rule(ReservationError::OutOfStock(missing)))
        });
        let mut catalog = MockCatalogStore::new();
        catalog.expect_invalidate().never();
        let inventory = Inventory::new(
            Arc::new(catalog),
            Arc::new(reservations),
            chrono::Duration::minutes(15),
        );
        let err = inventory
            .reserve_stock(
                &uuid::Uuid::now_v7().to_string(),
                &[(missing.to_string(), 1)],
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, InventoryError::OutOfStock(id) if id == missing),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn malformed_lines_are_reported_field_by_field_without_touching_stock() {
        let mut reservations = MockReservationStore::new();
        reservations.expect_reserve().never();
        let inventory = Inventory::new(
            Arc::new(MockCatalogStore::new()),
            Arc::new(reservations),
            chrono::Duration::minutes(15),
        );
        let err = inventory
            .reserve_stock("not-a-uuid", &[("x".to_owned(), 0)])
            .await
            .unwrap_err();
        let InventoryError::Invalid(violations) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.clone()).collect();
        assert_eq!(
            fields,
            ["order_id", "lines[0].product_id", "lines[0].quantity"]
        );
    }
}
