//! Events of the payment service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Event, Money};

/// A captured payment was given back. The order records it in its timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub amount: Money,
    pub reason: String,
    pub refunded_at: DateTime<Utc>,
    /// Whose money it was (the customer is mailed); absent from producers that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
}

impl Event for PaymentRefunded {
    const TYPE: &'static str = "payment.refunded";
    const VERSION: u32 = 1;

    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}
