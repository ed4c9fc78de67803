//! Building the order service's events from an order: the one place that decides what
//! `order.confirmed`, `order.cancelled`, `order.shipped` and `order.delivered` carry (and what their contract tests check).

use chrono::Utc;
use shop_events::Money;
use shop_events::order::{
    Address, NamedLine, OrderCancelled, OrderConfirmed, OrderDelivered, OrderDetails, OrderLine,
    OrderShipped,
};

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
        details: details(order),
    })
}

/// What the customer's confirmation shows, for an order that has its address.
fn details(order: &Order) -> Option<OrderDetails> {
    let shipping = order.shipping()?;
    let address = &shipping.address;
    Some(OrderDetails {
        lines: order
            .lines()
            .iter()
            .filter_map(|line| {
                let priced = line.priced.as_ref()?;
                Some(NamedLine {
                    name: priced.name.clone(),
                    quantity: line.quantity,
                    unit_price: priced.unit_price.clone(),
                })
            })
            .collect(),
        subtotal: order.subtotal()?.clone(),
        shipping: shipping.price.clone(),
        shipping_method: shipping.method.as_str().to_owned(),
        shipping_address: Address {
            name: address.name.clone(),
            line1: address.line1.clone(),
            line2: address.line2.clone(),
            city: address.city.clone(),
            postal_code: address.postal_code.clone(),
            country: address.country.as_str().to_owned(),
        },
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

/// `order.shipped` for a shipped order.
pub fn order_shipped(order: &Order) -> anyhow::Result<OrderShipped> {
    let tracking = order
        .tracking()
        .ok_or_else(|| anyhow::anyhow!("order {} is shipped without tracking", order.id()))?;
    Ok(OrderShipped {
        order_id: order.id(),
        user_id: order.user_id(),
        carrier: tracking.carrier.clone(),
        tracking_number: tracking.number.clone(),
        shipped_at: Utc::now(),
    })
}

/// `order.delivered` for a delivered order.
pub fn order_delivered(order: &Order) -> OrderDelivered {
    OrderDelivered {
        order_id: order.id(),
        user_id: order.user_id(),
        delivered_at: Utc::now(),
    }
}
