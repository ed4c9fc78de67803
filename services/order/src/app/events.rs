//! Building the order service's events from an order: the one place that decides what
//! `order.confirmed` and `order.cancelled` carry (and what their contract tests check).

use chrono::Utc;
use shop_events::Money;
use shop_events::order::{OrderCancelled, OrderConfirmed, OrderLine};

use crate::domain::Order;

/// `order.confirmed` for a confirmed order.
pub fn order_confirmed(order: &Order) -> anyhow::Result<OrderConfirmed> {
    let lines = order
        .lines()
        .iter()
        .map(|line| {
            let priced = line.priced.as_ref().ok_or_else(|| {
                anyhow::anyhow!("line {} of a confirmed order has no price", line.product_id)
            })?;
            Ok(OrderLine {
                product_id: line.product_id,
                quantity: line.quantity,
                unit_price: priced.unit_price.clone(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(OrderConfirmed {
        order_id: order.id(),
        user_id: order.user_id(),
        lines,
        total: order
            .total()
            .cloned()
            .map_or_else(|| Money::zero("EUR").map_err(anyhow::Error::from), Ok)?,
        confirmed_at: Utc::now(),
    })
}

/// `order.cancelled` for a cancelled order.
pub fn order_cancelled(order: &Order, reason: &str) -> OrderCancelled {
    OrderCancelled {
        order_id: order.id(),
        user_id: order.user_id(),
        reason: reason.to_owned(),
        cancelled_at: Utc::now(),
    }
}
