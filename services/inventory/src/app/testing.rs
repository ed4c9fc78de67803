//! Unit-test helpers for the use cases.

use chrono::Utc;
use shop_events::Money;
use uuid::Uuid;

use crate::domain::{Product, Stock};

pub(crate) fn product(name: &str, available: i64) -> Product {
    Product {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        description: String::new(),
        price: Money::new(1000, "EUR").unwrap(),
        image_url: String::new(),
        active: true,
        stock: Stock::new(available, 0, 0).unwrap(),
        created_at: Utc::now(),
        updated_at: Utc::now(),
    }
}
