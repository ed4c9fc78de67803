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

/// An order was paid and is final. Inventory turns its reservation into a sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderConfirmed {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub confirmed_at: DateTime<Utc>,
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
