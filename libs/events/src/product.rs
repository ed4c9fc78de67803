//! Events of the inventory service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Event;

/// What changed about a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductChange {
    Created,
    Updated,
    Stock,
}

/// What a shopper sees of a product changed: its catalog data or its available count (selling
/// reserved stock changes neither, and is not announced). Every gateway replica drops its
/// cached copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductChanged {
    pub product_id: Uuid,
    pub change: ProductChange,
    pub changed_at: DateTime<Utc>,
}

impl Event for ProductChanged {
    const TYPE: &'static str = "product.changed";
    const VERSION: u32 = 1;

    fn subject(&self) -> String {
        self.product_id.to_string()
    }
}
