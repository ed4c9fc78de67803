//! The API's JSON shapes, as this client reads them.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub image_url: String,
    pub available: i64,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
}

/// Sign-up's answer: the same whether or not the email already had an account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignUpAccepted {
    pub status: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub price: Money,
    pub image_url: String,
}

/// Only the fields that are `Some` change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProductChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewOrderItem {
    pub product_id: String,
    pub quantity: i64,
}

/// Where an order is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: String,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, in capitals.
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewOrder {
    /// The products to order; `None` checks out the customer's cart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<NewOrderItem>>,
    pub card_token: String,
    pub shipping_address: ShippingAddress,
    /// `standard` or `express`.
    pub shipping_method: String,
    /// The total the customer was shown; another is refused (409 `price-changed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_total: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderItem {
    pub product_id: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TimelineEntry {
    pub at: String,
    pub event: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: String,
    pub reason: String,
    pub items: Vec<OrderItem>,
    #[serde(default)]
    pub subtotal: Option<Money>,
    #[serde(default)]
    pub shipping: Option<Money>,
    pub total: Option<Money>,
    #[serde(default)]
    pub shipping_address: Option<ShippingAddress>,
    #[serde(default)]
    pub shipping_method: Option<String>,
    pub created_at: String,
    pub timeline: Vec<TimelineEntry>,
}

impl Order {
    /// Whether checkout is over (the status will not change, except by a cancellation).
    pub fn is_settled(&self) -> bool {
        matches!(self.status.as_str(), "CONFIRMED" | "REJECTED" | "CANCELLED")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Dashboard {
    pub user: Option<User>,
    pub recent_orders: Option<Vec<Order>>,
    pub products: Option<Vec<Product>>,
    pub degraded: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// An RFC 9457 problem, as the shop sends every error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

impl Problem {
    /// The last segment of the type URI: `rate-limited`, `validation`, ...
    pub fn slug(&self) -> &str {
        self.problem_type.rsplit('/').next().unwrap_or_default()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        for error in &self.errors {
            write!(f, "; {} {}", error.field, error.message)?;
        }
        Ok(())
    }
}
