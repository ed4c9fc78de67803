//! Reactions to the payment service's events: a refund appears in the order's timeline, once.

use chrono::{DateTime, Utc};
use shop_kernel::Money;
use shop_messaging::{Handled, InboxEntry};
use uuid::Uuid;

use super::Orders;
use super::ports::Appended;
use crate::domain::{TimelineEntry, TimelineEvent};

impl Orders {
    /// `payment.refunded`: the timeline says how much went back, and why.
    pub async fn record_refund(
        &self,
        order_id: Uuid,
        amount: &Money,
        reason: &str,
        at: DateTime<Utc>,
        inbox: InboxEntry,
    ) -> anyhow::Result<Handled> {
        let entry = TimelineEntry::new(at, TimelineEvent::Refunded, format!("{amount} ({reason})"));
        Ok(
            match self.store.append_event(order_id, entry, inbox).await? {
                Appended::Appended => Handled::Applied,
                Appended::Duplicate => Handled::Duplicate,
                Appended::UnknownOrder => {
                    tracing::warn!(%order_id, "refund for an order this service does not know");
                    Handled::Applied
                }
            },
        )
    }
}
