//! The order aggregate. Its state changes only through methods that check the current state;
//! each change returns the timeline entries that record it.
//!
//! ```text
//! PENDING --reserved--> RESERVED --confirm--> CONFIRMED --cancel--> CANCELLED
//!    |                     |                     |
//!    |                     |                     +--ship--> SHIPPED --deliver--> DELIVERED
//!    |                     |
//!    +-- reject -----------+--(compensate: release stock, give money back)--> REJECTED
//! ```

use chrono::{DateTime, Utc};
use shop_kernel::Money;
use uuid::Uuid;

use super::shipping::{ShippingAddress, ShippingMethod};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatus {
    Pending,
    Reserved,
    Confirmed,
    Rejected,
    Cancelled,
    /// Handed to a carrier (admins); it can no longer be cancelled.
    Shipped,
    /// The carrier delivered it.
    Delivered,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Reserved => "RESERVED",
            Self::Confirmed => "CONFIRMED",
            Self::Rejected => "REJECTED",
            Self::Cancelled => "CANCELLED",
            Self::Shipped => "SHIPPED",
            Self::Delivered => "DELIVERED",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "PENDING" => Some(Self::Pending),
            "RESERVED" => Some(Self::Reserved),
            "CONFIRMED" => Some(Self::Confirmed),
            "REJECTED" => Some(Self::Rejected),
            "CANCELLED" => Some(Self::Cancelled),
            "SHIPPED" => Some(Self::Shipped),
            "DELIVERED" => Some(Self::Delivered),
            _ => None,
        }
    }

    /// Whether the saga is over (cancellation or fulfilment can still follow a
    /// confirmation).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Confirmed | Self::Rejected | Self::Cancelled | Self::Shipped | Self::Delivered
        )
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
    /// The order's total is above the largest the shop accepts.
    TotalTooLarge,
    /// A peer refused the request for good (a bug or a contract mismatch, not the customer).
    Refused,
    /// Inventory reserved the lines at other prices than the customer was quoted at checkout
    /// (a price changed in between): the stock goes back and nothing is charged.
    PriceChanged,
}

impl RejectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutOfStock => "out_of_stock",
            Self::UnknownProduct => "unknown_product",
            Self::PaymentDeclined => "payment_declined",
            Self::Timeout => "timeout",
            Self::TotalTooLarge => "total_too_large",
            Self::Refused => "refused",
            Self::PriceChanged => "price_changed",
        }
    }

    /// What the customer reads in the timeline when the peer gave nothing more specific: never
    /// a peer's own words, which may be internal.
    pub fn customer_text(self) -> &'static str {
        match self {
            Self::OutOfStock => "a product is out of stock",
            Self::UnknownProduct => "a product is no longer for sale",
            Self::PaymentDeclined => "the payment was declined",
            Self::Timeout => "the order could not be completed in time; nothing was charged",
            Self::TotalTooLarge => {
                "the total is above the largest order the shop accepts (1,000,000.00 EUR)"
            }
            Self::Refused => "the order could not be accepted; nothing was charged",
            Self::PriceChanged => {
                "a price changed while the order was placed; nothing was charged: review the \
                 cart and order again"
            }
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "total_too_large" => Some(Self::TotalTooLarge),
            "out_of_stock" => Some(Self::OutOfStock),
            "unknown_product" => Some(Self::UnknownProduct),
            "payment_declined" => Some(Self::PaymentDeclined),
            "timeout" => Some(Self::Timeout),
            "refused" => Some(Self::Refused),
            "price_changed" => Some(Self::PriceChanged),
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

/// What happened to an order, as its timeline (and the API) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimelineEvent {
    Placed,
    StockReserved,
    /// The first step was refused for good; the entry's detail says why.
    OutOfStock,
    UnknownProduct,
    TotalTooLarge,
    Refused,
    PaymentCaptured,
    PaymentDeclined,
    Compensating,
    StockReleased,
    Rejected,
    Confirmed,
    Cancelled,
    /// The payment service gave the money back.
    Refunded,
    Shipped,
    Delivered,
}

impl TimelineEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Placed => "placed",
            Self::StockReserved => "stock_reserved",
            Self::OutOfStock => "out_of_stock",
            Self::UnknownProduct => "unknown_product",
            Self::TotalTooLarge => "total_too_large",
            Self::Refused => "refused",
            Self::PaymentCaptured => "payment_captured",
            Self::PaymentDeclined => "payment_declined",
            Self::Compensating => "compensating",
            Self::StockReleased => "stock_released",
            Self::Rejected => "rejected",
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Refunded => "refunded",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        [
            Self::Placed,
            Self::StockReserved,
            Self::OutOfStock,
            Self::UnknownProduct,
            Self::TotalTooLarge,
            Self::Refused,
            Self::PaymentCaptured,
            Self::PaymentDeclined,
            Self::Compensating,
            Self::StockReleased,
            Self::Rejected,
            Self::Confirmed,
            Self::Cancelled,
            Self::Refunded,
            Self::Shipped,
            Self::Delivered,
        ]
        .into_iter()
        .find(|event| event.as_str() == stored)
    }

    /// The event that records a refusal of the first step.
    fn refusal(reason: RejectReason) -> Self {
        match reason {
            RejectReason::OutOfStock => Self::OutOfStock,
            RejectReason::UnknownProduct => Self::UnknownProduct,
            RejectReason::PaymentDeclined => Self::PaymentDeclined,
            RejectReason::TotalTooLarge => Self::TotalTooLarge,
            RejectReason::Timeout | RejectReason::Refused | RejectReason::PriceChanged => {
                Self::Refused
            }
        }
    }
}

/// One entry of the order's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: DateTime<Utc>,
    pub event: TimelineEvent,
    pub detail: String,
}

impl TimelineEntry {
    pub fn new(at: DateTime<Utc>, event: TimelineEvent, detail: impl Into<String>) -> Self {
        Self {
            at,
            event,
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
    #[error("the subtotal and shipping do not add up to a valid total")]
    TotalInvalid,
}

/// Where an order goes, how, and for how much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipping {
    pub address: ShippingAddress,
    pub method: ShippingMethod,
    pub price: Money,
}

/// The parcel an order travels in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub carrier: String,
    pub number: String,
}

/// An order's state as it is stored: what [`Order::restore`] takes and [`Order::state`] gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: OrderStatus,
    /// Why it was rejected or cancelled (free text for cancellations).
    pub reason: Option<String>,
    /// Set while the saga compensates.
    pub compensation: Option<RejectReason>,
    pub lines: Vec<LineItem>,
    /// Where and how it ships, and what shipping costs; `None` for orders placed before
    /// checkout asked for an address.
    pub shipping: Option<Shipping>,
    /// The lines' sum once priced.
    pub subtotal: Option<Money>,
    /// The subtotal plus shipping once priced: what is charged.
    pub total: Option<Money>,
    /// How it travels, once shipped.
    pub tracking: Option<Tracking>,
    pub saga_deadline: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The order aggregate: its state is private and changes only through the methods below, each
/// of which checks the current state and returns the timeline entries that record the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    state: OrderState,
}

impl Order {
    /// A new order for `lines` (each a product and a quantity), pending, with a saga that must
    /// end by `deadline`.
    pub fn place(
        id: Uuid,
        user_id: Uuid,
        lines: &[(Uuid, i64)],
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> (Self, TimelineEntry) {
        let units: i64 = lines.iter().map(|(_, quantity)| quantity).sum();
        let order = Self {
            state: OrderState {
                id,
                user_id,
                status: OrderStatus::Pending,
                reason: None,
                compensation: None,
                lines: lines
                    .iter()
                    .map(|&(product_id, quantity)| LineItem {
                        product_id,
                        quantity,
                        priced: None,
                    })
                    .collect(),
                shipping: None,
                subtotal: None,
                total: None,
                tracking: None,
                saga_deadline: deadline,
                created_at: now,
                updated_at: now,
            },
        };
        let entry = TimelineEntry::new(now, TimelineEvent::Placed, format!("{units} item(s)"));
        (order, entry)
    }

    /// The order ships to `shipping.address` by `shipping.method` for `shipping.price`, quoted
    /// for a subtotal of `quoted`; shipping is added to the total once the lines are priced,
    /// and lines priced at another subtotal than the quote are not charged (see
    /// [`Order::reserved`]).
    #[must_use]
    pub fn with_shipping(mut self, shipping: Shipping, quoted: Money) -> Self {
        self.state.shipping = Some(shipping);
        self.state.subtotal = Some(quoted);
        self
    }

    /// An order as it was stored.
    pub fn restore(state: OrderState) -> Self {
        Self { state }
    }

    /// The state to store.
    pub fn state(&self) -> &OrderState {
        &self.state
    }

    pub fn id(&self) -> Uuid {
        self.state.id
    }

    pub fn user_id(&self) -> Uuid {
        self.state.user_id
    }

    pub fn status(&self) -> OrderStatus {
        self.state.status
    }

    pub fn reason(&self) -> Option<&str> {
        self.state.reason.as_deref()
    }

    pub fn compensation(&self) -> Option<RejectReason> {
        self.state.compensation
    }

    pub fn lines(&self) -> &[LineItem] {
        &self.state.lines
    }

    pub fn total(&self) -> Option<&Money> {
        self.state.total.as_ref()
    }

    pub fn subtotal(&self) -> Option<&Money> {
        self.state.subtotal.as_ref()
    }

    pub fn shipping(&self) -> Option<&Shipping> {
        self.state.shipping.as_ref()
    }

    pub fn tracking(&self) -> Option<&Tracking> {
        self.state.tracking.as_ref()
    }

    pub fn saga_deadline(&self) -> DateTime<Utc> {
        self.state.saga_deadline
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.state.created_at
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        self.state.updated_at
    }

    /// The order as a store that wrote it `at` holds it (the store stamps `updated_at`).
    #[must_use]
    pub fn stored_at(mut self, at: DateTime<Utc>) -> Self {
        self.state.updated_at = at;
        self
    }

    fn wrong_state(&self) -> TransitionError {
        TransitionError::WrongState(self.state.status.as_str())
    }

    fn in_flight(&self) -> bool {
        matches!(
            self.state.status,
            OrderStatus::Pending | OrderStatus::Reserved
        )
    }

    /// Inventory reserved the stock and priced the lines.
    pub fn reserved(
        &mut self,
        priced: &[(Uuid, PricedLine)],
        total: Money,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        if self.state.status != OrderStatus::Pending || self.state.compensation.is_some() {
            return Err(self.wrong_state());
        }
        if priced.len() != self.state.lines.len() {
            return Err(TransitionError::LinesMismatch);
        }
        for line in &mut self.state.lines {
            let (_, price) = priced
                .iter()
                .find(|(id, _)| *id == line.product_id)
                .ok_or(TransitionError::LinesMismatch)?;
            line.priced = Some(price.clone());
        }
        let (charged, detail) = match &self.state.shipping {
            Some(shipping) => {
                let charged = total
                    .plus(&shipping.price)
                    .map_err(|_| TransitionError::TotalInvalid)?;
                let detail = format!("total {charged} (shipping {})", shipping.price);
                (charged, detail)
            }
            None => (total.clone(), format!("total {total}")),
        };
        // The subtotal the checkout quoted (and the customer saw) is the one charged: a price
        // that moved after the check is never charged silently.
        let moved = match &self.state.subtotal {
            Some(quoted) if *quoted != total => Some(format!(
                "the items now cost {total}, not the {quoted} quoted"
            )),
            _ => None,
        };
        self.state.subtotal = Some(total);
        self.state.total = Some(charged);
        self.state.status = OrderStatus::Reserved;
        let mut timeline = vec![TimelineEntry::new(
            now,
            TimelineEvent::StockReserved,
            detail,
        )];
        if let Some(moved) = moved {
            timeline.extend(self.begin_compensation(RejectReason::PriceChanged, &moved, now)?);
        }
        Ok(timeline)
    }

    /// Inventory refused the first step for good: nothing was held, so the order is rejected
    /// at once.
    pub fn refused(
        &mut self,
        reason: RejectReason,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        let detail = if detail.is_empty() {
            reason.customer_text()
        } else {
            detail
        };
        let mut timeline = vec![TimelineEntry::new(
            now,
            TimelineEvent::refusal(reason),
            detail,
        )];
        timeline.extend(self.reject(reason, now)?);
        Ok(timeline)
    }

    /// Payment captured: the order is final. Never after the deadline: a late capture is given
    /// back by compensation instead.
    pub fn confirm(&mut self, now: DateTime<Utc>) -> Result<Vec<TimelineEntry>, TransitionError> {
        if self.state.status != OrderStatus::Reserved || self.state.compensation.is_some() {
            return Err(self.wrong_state());
        }
        if now > self.state.saga_deadline {
            return Err(TransitionError::DeadlinePassed);
        }
        self.state.status = OrderStatus::Confirmed;
        let total = self.total().map(ToString::to_string).unwrap_or_default();
        Ok(vec![
            TimelineEntry::new(now, TimelineEvent::PaymentCaptured, total),
            TimelineEntry::new(now, TimelineEvent::Confirmed, ""),
        ])
    }

    /// The card was declined (`reason`, the processor's word for it): the money stays with
    /// the customer and the stock goes back.
    pub fn payment_declined(
        &mut self,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        let mut timeline = vec![TimelineEntry::new(
            now,
            TimelineEvent::PaymentDeclined,
            reason,
        )];
        timeline.extend(self.begin_compensation(RejectReason::PaymentDeclined, "", now)?);
        Ok(timeline)
    }

    /// The saga will not complete: from now on it only undoes what it did.
    pub fn begin_compensation(
        &mut self,
        reason: RejectReason,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        if !self.in_flight() {
            return Err(self.wrong_state());
        }
        if self.state.compensation.is_some() {
            return Ok(Vec::new());
        }
        self.state.compensation = Some(reason);
        let detail = if detail.is_empty() {
            reason.as_str().to_owned()
        } else {
            format!("{}: {detail}", reason.as_str())
        };
        Ok(vec![TimelineEntry::new(
            now,
            TimelineEvent::Compensating,
            detail,
        )])
    }

    /// Compensation is done (money and stock are back): the order is rejected.
    pub fn compensated(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        let reason = self.state.compensation.ok_or_else(|| self.wrong_state())?;
        let mut timeline = vec![TimelineEntry::new(now, TimelineEvent::StockReleased, "")];
        timeline.extend(self.reject(reason, now)?);
        Ok(timeline)
    }

    /// The saga ended without the order: after compensation, or at once when nothing needs
    /// undoing (out of stock at the first step).
    pub fn reject(
        &mut self,
        reason: RejectReason,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        if !self.in_flight() {
            return Err(self.wrong_state());
        }
        self.state.status = OrderStatus::Rejected;
        self.state.reason = Some(reason.as_str().to_owned());
        self.state.compensation = None;
        Ok(vec![TimelineEntry::new(
            now,
            TimelineEvent::Rejected,
            reason.as_str(),
        )])
    }

    /// A confirmed order is called off; stock and money go back by way of `order.cancelled`.
    pub fn cancel(
        &mut self,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        if self.state.status != OrderStatus::Confirmed {
            return Err(self.wrong_state());
        }
        self.state.status = OrderStatus::Cancelled;
        self.state.reason = Some(reason.to_owned());
        Ok(vec![TimelineEntry::new(
            now,
            TimelineEvent::Cancelled,
            reason,
        )])
    }

    /// A confirmed order left with a carrier.
    pub fn ship(
        &mut self,
        tracking: Tracking,
        now: DateTime<Utc>,
    ) -> Result<Vec<TimelineEntry>, TransitionError> {
        if self.state.status != OrderStatus::Confirmed {
            return Err(self.wrong_state());
        }
        let detail = format!("{} {}", tracking.carrier, tracking.number);
        self.state.status = OrderStatus::Shipped;
        self.state.tracking = Some(tracking);
        Ok(vec![TimelineEntry::new(
            now,
            TimelineEvent::Shipped,
            detail,
        )])
    }

    /// A shipped order reached its address.
    pub fn deliver(&mut self, now: DateTime<Utc>) -> Result<Vec<TimelineEntry>, TransitionError> {
        if self.state.status != OrderStatus::Shipped {
            return Err(self.wrong_state());
        }
        self.state.status = OrderStatus::Delivered;
        Ok(vec![TimelineEntry::new(now, TimelineEvent::Delivered, "")])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn pending(deadline_in_secs: i64) -> Order {
        let now = Utc::now();
        Order::place(
            Uuid::now_v7(),
            Uuid::now_v7(),
            &[(Uuid::from_u128(1), 2)],
            now + chrono::Duration::seconds(deadline_in_secs),
            now,
        )
        .0
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

    fn events(entries: &[TimelineEntry]) -> Vec<&'static str> {
        entries.iter().map(|e| e.event.as_str()).collect()
    }

    #[test]
    fn a_placed_order_is_pending_and_its_first_entry_counts_the_items() {
        let now = Utc::now();
        let (order, placed) = Order::place(
            Uuid::now_v7(),
            Uuid::now_v7(),
            &[(Uuid::from_u128(1), 2), (Uuid::from_u128(2), 3)],
            now,
            now,
        );
        assert_eq!(order.status(), OrderStatus::Pending);
        assert_eq!(placed.event, TimelineEvent::Placed);
        assert_eq!(placed.detail, "5 item(s)");
        assert_eq!((placed.at, order.created_at()), (now, now));
    }

    #[test]
    fn the_happy_path_moves_pending_reserved_confirmed_and_records_each_step() {
        let mut order = pending(60);
        let now = Utc::now();
        let reserved = order
            .reserved(&priced(), Money::new(2400, "EUR").unwrap(), now)
            .unwrap();
        assert_eq!(events(&reserved), ["stock_reserved"]);
        assert_eq!(reserved[0].detail, "total 24.00 EUR");
        let confirmed = order.confirm(now).unwrap();
        assert_eq!(events(&confirmed), ["payment_captured", "confirmed"]);
        assert_eq!(order.status(), OrderStatus::Confirmed);
        assert_eq!(
            events(&order.cancel("changed my mind", now).unwrap()),
            ["cancelled"]
        );
    }

    fn quoted(subtotal_minor: i64) -> Order {
        let shipping = Shipping {
            address: ShippingAddress {
                name: "Ann Reader".to_owned(),
                line1: "1 Crab Lane".to_owned(),
                line2: String::new(),
                city: "Dublin".to_owned(),
                postal_code: "D02 X285".to_owned(),
                country: super::super::shipping::Country::parse("IE").unwrap(),
            },
            method: ShippingMethod::Express,
            price: Money::new(995, "EUR").unwrap(),
        };
        pending(60).with_shipping(shipping, Money::new(subtotal_minor, "EUR").unwrap())
    }

    #[test]
    fn lines_reserved_at_the_quoted_subtotal_are_charged_with_shipping() {
        let mut order = quoted(2400);
        let reserved = order
            .reserved(&priced(), Money::new(2400, "EUR").unwrap(), Utc::now())
            .unwrap();
        assert_eq!(events(&reserved), ["stock_reserved"]);
        assert_eq!(order.total(), Some(&Money::new(3395, "EUR").unwrap()));
        assert_eq!(order.compensation(), None);
    }

    #[test]
    fn lines_reserved_at_another_subtotal_than_quoted_are_released_not_charged() {
        let mut order = quoted(2200);
        let reserved = order
            .reserved(&priced(), Money::new(2400, "EUR").unwrap(), Utc::now())
            .unwrap();
        assert_eq!(events(&reserved), ["stock_reserved", "compensating"]);
        assert_eq!(
            reserved[1].detail,
            "price_changed: the items now cost 24.00 EUR, not the 22.00 EUR quoted"
        );
        assert_eq!(order.compensation(), Some(RejectReason::PriceChanged));
        assert_eq!(order.subtotal(), Some(&Money::new(2400, "EUR").unwrap()));
        let rejected = order.compensated(Utc::now()).unwrap();
        assert_eq!(events(&rejected), ["stock_released", "rejected"]);
        assert_eq!(order.reason(), Some("price_changed"));
        assert_eq!(
            RejectReason::parse("price_changed"),
            Some(RejectReason::PriceChanged)
        );
    }

    #[test]
    fn an_order_past_its_deadline_is_never_confirmed() {
        let mut order = pending(-1);
        order
            .reserved(&priced(), Money::new(2400, "EUR").unwrap(), Utc::now())
            .unwrap();
        assert_eq!(
            order.confirm(Utc::now()),
            Err(TransitionError::DeadlinePassed)
        );
    }

    #[test]
    fn a_compensating_order_can_only_be_rejected() {
        let mut order = pending(60);
        let now = Utc::now();
        order
            .reserved(&priced(), Money::new(2400, "EUR").unwrap(), now)
            .unwrap();
        let declined = order.payment_declined("card_declined", now).unwrap();
        assert_eq!(events(&declined), ["payment_declined", "compensating"]);
        assert!(
            order
                .begin_compensation(RejectReason::Timeout, "", now)
                .unwrap()
                .is_empty(),
            "the first reason stands"
        );
        assert!(order.confirm(now).is_err());
        assert_eq!(
            events(&order.compensated(now).unwrap()),
            ["stock_released", "rejected"]
        );
        assert_eq!(order.reason(), Some("payment_declined"));
        assert!(
            order.cancel("x", now).is_err(),
            "only confirmed orders are cancelled"
        );
    }

    #[test]
    fn a_refused_first_step_rejects_at_once_and_says_why() {
        let mut order = pending(60);
        let timeline = order
            .refused(RejectReason::OutOfStock, "product 1", Utc::now())
            .unwrap();
        assert_eq!(events(&timeline), ["out_of_stock", "rejected"]);
        assert_eq!(order.status(), OrderStatus::Rejected);
    }

    #[test]
    fn a_confirmed_order_ships_then_delivers_and_nothing_else_does() {
        let mut order = pending(60);
        assert!(order.ship(tracking(), Utc::now()).is_err(), "pending");
        order
            .reserved(&priced(), Money::new(2400, "EUR").unwrap(), Utc::now())
            .unwrap();
        order.confirm(Utc::now()).unwrap();
        assert!(order.deliver(Utc::now()).is_err(), "not shipped yet");
        let shipped = order.ship(tracking(), Utc::now()).unwrap();
        assert_eq!(shipped[0].detail, "An Post RX1");
        assert_eq!(order.status(), OrderStatus::Shipped);
        assert!(order.cancel("too late", Utc::now()).is_err());
        order.deliver(Utc::now()).unwrap();
        assert_eq!(order.status(), OrderStatus::Delivered);
        assert!(order.status().is_terminal());
    }

    fn tracking() -> Tracking {
        Tracking {
            carrier: "An Post".to_owned(),
            number: "RX1".to_owned(),
        }
    }

    #[test]
    fn every_event_reads_back_from_its_stored_name() {
        for event in [
            TimelineEvent::Placed,
            TimelineEvent::Refunded,
            TimelineEvent::StockReleased,
            TimelineEvent::Shipped,
            TimelineEvent::Delivered,
        ] {
            assert_eq!(TimelineEvent::parse(event.as_str()), Some(event));
        }
        assert_eq!(TimelineEvent::parse("lost"), None);
    }
}
