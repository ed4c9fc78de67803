//! The order aggregate. Its state changes only through methods that check the current state;
//! each change returns the timeline entries that record it.
//!
//! ```text
//! PENDING --reserved--> RESERVED --confirm--> CONFIRMED --cancel--> CANCELLED
//!    |                     |
//!    +-- reject -----------+--(compensate: release stock, give money back)--> REJECTED
//! ```

use chrono::{DateTime, Utc};
use shop_kernel::Money;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Reserved,
    Confirmed,
    Rejected,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Reserved => "RESERVED",
            Self::Confirmed => "CONFIRMED",
            Self::Rejected => "REJECTED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "PENDING" => Some(Self::Pending),
            "RESERVED" => Some(Self::Reserved),
            "CONFIRMED" => Some(Self::Confirmed),
            "REJECTED" => Some(Self::Rejected),
            "CANCELLED" => Some(Self::Cancelled),
            _ => None,
        }
    }

    /// Whether the saga is over (cancellation can still follow a confirmation).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Confirmed | Self::Rejected | Self::Cancelled)
    }
}

/// Why an order was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    OutOfStock,
    UnknownProduct,
    PaymentDeclined,
    /// The saga did not finish before its deadline.
    Timeout,
    /// A peer refused the request for good (a bug or a contract mismatch, not the customer).
    Refused,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutOfStock => "out_of_stock",
            Self::UnknownProduct => "unknown_product",
            Self::PaymentDeclined => "payment_declined",
            Self::Timeout => "timeout",
            Self::Refused => "refused",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "out_of_stock" => Some(Self::OutOfStock),
            "unknown_product" => Some(Self::UnknownProduct),
            "payment_declined" => Some(Self::PaymentDeclined),
            "timeout" => Some(Self::Timeout),
            "refused" => Some(Self::Refused),
            _ => None,
        }
    }
}

/// A line as ordered: what and how many; priced once reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineItem {
    pub product_id: Uuid,
    pub quantity: i64,
    pub priced: Option<PricedLine>,
}

/// The name and unit price inventory reserved a line at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub name: String,
    pub unit_price: Money,
}

/// One entry of the order's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: String,
    pub detail: String,
}

impl TimelineEntry {
    pub fn now(event: &str, detail: impl Into<String>) -> Self {
        Self {
            at: Utc::now(),
            event: event.to_owned(),
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the order is {0}, which does not allow this")]
    WrongState(&'static str),
    #[error("the saga's deadline has passed")]
    DeadlinePassed,
    #[error("the reserved lines do not match the order")]
    LinesMismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    /// Why it was rejected or cancelled (free text for cancellations).
    pub reason: Option<String>,
    /// Set while the saga compensates.
    pub compensation: Option<RejectReason>,
    pub lines: Vec<LineItem>,
    pub total: Option<Money>,
    pub saga_deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// Inventory reserved the stock and priced the lines.
    pub fn reserved(
        &mut self,
        priced: &[(Uuid, PricedLine)],
        total: Money,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        if self.status != OrderStatus::Pending || self.compensation.is_some() {
            return Err(TransitionError::WrongState(self.status.as_str()));
        }
        if priced.len() != self.lines.len() {
            return Err(TransitionError::LinesMismatch);
        }
        for line in &mut self.lines {
            let (_, price) = priced
                .iter()
                .find(|(id, _)| *id == line.product_id)
                .ok_or(TransitionError::LinesMismatch)?;
            line.priced = Some(price.clone());
        }
        let entry = TimelineEntry::now("stock_reserved", format!("total {total}"));
        self.total = Some(total);
        self.status = OrderStatus::Reserved;
        Ok(vec![entry])
    }

    /// Payment captured: the order is final. Never after the deadline: a late capture is given
    /// back by compensation instead.
    pub fn confirm(&mut self, now: DateTime<Utc>) -> Result<Vec<TimelineEntry>, TransitionError> {
        if self.status != OrderStatus::Reserved || self.compensation.is_some() {
            return Err(TransitionError::WrongState(self.status.as_str()));
        }
        if now > self.saga_deadline {
            return Err(TransitionError::DeadlinePassed);
        }
        self.status = OrderStatus::Confirmed;
        Ok(vec![
            TimelineEntry::now(
                "payment_captured",
                self.total
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            ),
            TimelineEntry::now("confirmed", ""),
        ])
    }

    /// The saga will not complete: from now on it only undoes what it did.
    pub fn begin_compensation(
        &mut self,
        reason: RejectReason,
        detail: &str,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        if !matches!(self.status, OrderStatus::Pending | OrderStatus::Reserved) {
            return Err(TransitionError::WrongState(self.status.as_str()));
        }
        if self.compensation.is_some() {
            return Ok(Vec::new());
        }
        self.compensation = Some(reason);
        let detail = if detail.is_empty() {
            reason.as_str().to_owned()
        } else {
            format!("{}: {detail}", reason.as_str())
        };
        Ok(vec![TimelineEntry::now("compensating", detail)])
    }

    /// The saga ended without the order: after compensation, or at once when nothing needs
    /// undoing (out of stock at the first step).
    pub fn reject(&mut self, reason: RejectReason) -> Result<Vec<TimelineEntry>, TransitionError> {
        if !matches!(self.status, OrderStatus::Pending | OrderStatus::Reserved) {
            return Err(TransitionError::WrongState(self.status.as_str()));
        }
        self.status = OrderStatus::Rejected;
        self.reason = Some(reason.as_str().to_owned());
        self.compensation = None;
        Ok(vec![TimelineEntry::now("rejected", reason.as_str())])
    }

    /// A confirmed order is called off; stock and money go back by way of `order.cancelled`.
    pub fn cancel(&mut self, reason: &str) -> Result<Vec<TimelineEntry>, TransitionError> {
        if self.status != OrderStatus::Confirmed {
            return Err(TransitionError::WrongState(self.status.as_str()));
        }
        self.status = OrderStatus::Cancelled;
        self.reason = Some(reason.to_owned());
        Ok(vec![TimelineEntry::now("cancelled", reason)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn pending(deadline_in_secs: i64) -> Order {
        Order {
            id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            status: OrderStatus::Pending,
            reason: None,
            compensation: None,
            lines: vec![LineItem {
                product_id: Uuid::from_u128(1),
                quantity: 2,
                priced: None,
            }],
            total: None,
            saga_deadline: Utc::now() + chrono::Duration::seconds(deadline_in_secs),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn priced() -> Vec<(Uuid, PricedLine)> {
        vec![(
            Uuid::from_u128(1),
            PricedLine {
                name: "Mug".to_owned(),
                unit_price: Money::new(1200, "EUR").unwrap(),
            },
        )]
    }

    #[test]
    fn the_happy_path_moves_pending_reserved_confirmed_and_records_each_step() {
        let mut order = pending(60);
        let reserved = order
            .reserved(&priced(), Money::new(2400, "EUR").unwrap())
            .unwrap();
        assert_eq!(reserved[0].event, "stock_reserved");
        let confirmed = order.confirm(Utc::now()).unwrap();
        assert_eq!(
            confirmed
                .iter()
                .map(|e| e.event.as_str())
                .collect::<Vec<_>>(),
            ["payment_captured", "confirmed"]
        );
        assert_eq!(order.status, OrderStatus::Confirmed);
        assert_eq!(
            order.cancel("changed my mind").unwrap()[0].event,
            "cancelled"
        );
    }

    #[test]
    fn an_order_past_its_deadline_is_never_confirmed() {
        let mut order = pending(-1);
        order
            .reserved(&priced(), Money::new(2400, "EUR").unwrap())
            .unwrap();
        assert_eq!(
            order.confirm(Utc::now()),
            Err(TransitionError::DeadlinePassed)
        );
    }

    #[test]
    fn a_compensating_order_can_only_be_rejected() {
        let mut order = pending(60);
        order
            .reserved(&priced(), Money::new(2400, "EUR").unwrap())
            .unwrap();
        order
            .begin_compensation(RejectReason::PaymentDeclined, "card_declined")
            .unwrap();
        assert!(
            order
                .begin_compensation(RejectReason::Timeout, "")
                .unwrap()
                .is_empty(),
            "the first reason stands"
        );
        assert!(order.confirm(Utc::now()).is_err());
        order.reject(RejectReason::PaymentDeclined).unwrap();
        assert_eq!(order.reason.as_deref(), Some("payment_declined"));
        assert!(
            order.cancel("x").is_err(),
            "only confirmed orders are cancelled"
        );
    }
}
