//! Events of the order service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Money};

/// One line of a confirmed order, priced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: Uuid,
    pub quantity: i64,
    pub unit_price: Money,
}

/// An order was paid and is final. Inventory turns its reservation into a sale; the
/// customer is mailed a confirmation from `details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderConfirmed {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub confirmed_at: DateTime<Utc>,
    /// What the confirmation mail shows; absent from producers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<OrderDetails>,
}

/// An order as its customer reads it: named lines, where it ships, and the sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetails {
    pub lines: Vec<NamedLine>,
    pub subtotal: Money,
    pub shipping: Money,
    /// `standard` or `express`.
    pub shipping_method: String,
    pub shipping_address: Address,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedLine {
    pub name: String,
    pub quantity: i64,
    pub unit_price: Money,
}

/// A postal address; `country` is ISO 3166-1 alpha-2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

impl Event for OrderConfirmed {
    const TYPE: &'static str = "order.confirmed";
    const VERSION: u32 = 1;

    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// A confirmed order was cancelled. Inventory puts the goods back in stock; payment refunds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub reason: String,
    pub cancelled_at: DateTime<Utc>,
}

impl Event for OrderCancelled {
    const TYPE: &'static str = "order.cancelled";
    const VERSION: u32 = 1;

    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// A confirmed order was handed to a carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderShipped {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub carrier: String,
    pub tracking_number: String,
    pub shipped_at: DateTime<Utc>,
}

impl Event for OrderShipped {
    const TYPE: &'static str = "order.shipped";
    const VERSION: u32 = 1;

    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// A shipped order reached its address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDelivered {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub delivered_at: DateTime<Utc>,
}

impl Event for OrderDelivered {
    const TYPE: &'static str = "order.delivered";
    const VERSION: u32 = 1;

    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}
