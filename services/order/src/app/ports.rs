//! The ports the order use cases need: the order store, and the two peers the saga
//! orchestrates. Adapters implement them; unit tests mock them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shop_events::Money;
use shop_events::order::{OrderCancelled, OrderConfirmed, OrderDelivered, OrderShipped};
use shop_kernel::LeaseToken;
use shop_messaging::InboxEntry;
use uuid::Uuid;

use crate::domain::{
    CatalogProduct, Order, OrderStatus, PricedLine, RejectReason, RequestedLine, StoredCartLine,
    TimelineEntry,
};

/// Which orders a listing shows: every field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// One customer's orders; every customer's when `None` (admins only).
    pub user_id: Option<Uuid>,
    pub status: Option<OrderStatus>,
    /// Placed at or after.
    pub placed_from: Option<DateTime<Utc>>,
    /// Placed before.
    pub placed_before: Option<DateTime<Utc>>,
}

/// The right to drive one order's saga until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub token: LeaseToken,
    pub until: DateTime<Utc>,
}

/// A new order with what it takes to run its saga.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub order: Order,
    /// The first entry of its timeline.
    pub placed: TimelineEntry,
    pub idempotency_key: String,
    pub fingerprint: Vec<u8>,
    pub card_token: String,
    pub lease: Lease,
    /// The order checks out the customer's cart: confirming it removes its lines from the cart.
    pub from_cart: bool,
}

/// What storing a new order found.
#[derive(Debug, Clone)]
pub enum Created {
    /// Stored; the caller holds its lease.
    New(Order),
    /// The customer used this idempotency key before, for this order.
    Existing { order: Order, fingerprint: Vec<u8> },
}

/// An event for other services, written to the outbox with the change that causes it.
#[derive(Debug, Clone)]
pub enum OutgoingEvent {
    Confirmed(Box<OrderConfirmed>),
    Cancelled(OrderCancelled),
    Shipped(OrderShipped),
    Delivered(OrderDelivered),
}

/// One transition of an order, to be stored atomically: the new state, its timeline entries
/// and its event. It applies only if the order is still in `from` (and, when `lease` is set,
/// still leased with that token), so a driver that lost its lease cannot overwrite the one
/// that took over.
#[derive(Debug, Clone)]
pub struct Change {
    pub from: OrderStatus,
    pub from_compensation: Option<RejectReason>,
    pub order: Order,
    pub timeline: Vec<TimelineEntry>,
    pub event: Option<OutgoingEvent>,
    pub lease: Option<LeaseToken>,
}

/// Orders, their lines, their timeline, and the saga's bookkeeping.
/// The sagas in flight, as the recovery worker reports them (`orders_saga_backlog`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InFlight {
    pub count: i64,
    /// Seconds since the oldest in-flight order was placed; 0 when there is none.
    pub oldest_age_seconds: f64,
}

/// What [`OrderStore::card_to_charge`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardToCharge {
    /// The order is as the driver knows it: charge this card.
    Card(String),
    /// The order moved on meanwhile (a cancellation, another driver): charge nothing.
    MovedOn,
    /// The order is as the driver knows it but keeps no card token.
    Missing,
}

#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait OrderStore: Send + Sync {
    async fn create(&self, new: NewOrder) -> anyhow::Result<Created>;
    /// The order a customer placed with an idempotency key, and its request's fingerprint.
    async fn find_by_key(
        &self,
        user_id: Uuid,
        key: &str,
    ) -> anyhow::Result<Option<(Order, Vec<u8>)>>;
    async fn get(&self, id: Uuid) -> anyhow::Result<Option<Order>>;
    async fn timeline(&self, id: Uuid) -> anyhow::Result<Vec<TimelineEntry>>;
    /// The card token the saga charges with, read only while the order is still in `status`
    /// with `compensation` (the state the driver's next write is conditional on).
    async fn card_to_charge(
        &self,
        id: Uuid,
        status: OrderStatus,
        compensation: Option<RejectReason>,
    ) -> anyhow::Result<CardToCharge>;
    /// Stores a transition; false when the order moved on (or the lease was lost) meanwhile.
    async fn apply(&self, change: Change) -> anyhow::Result<bool>;
    async fn release_lease(&self, id: Uuid, token: LeaseToken) -> anyhow::Result<()>;
    /// Takes `lease` on up to `limit` orders in flight that nobody drives (free or expired
    /// lease), oldest first, skipping rows another replica is claiming: the recovery worker's
    /// work for one round.
    async fn claim_stalled(&self, limit: i64, lease: Lease) -> anyhow::Result<Vec<Uuid>>;
    /// Frees the leases on orders in flight that this replica's previous process held (the
    /// store knows the replica's stable name; none, nothing to do): that process is dead, so
    /// the recovery worker may drive its sagas now rather than when the leases expire.
    /// Called once at start, before this process takes any lease. Returns how many it freed.
    async fn take_back_leases(&self) -> anyhow::Result<u64>;
    /// How many sagas are in flight (PENDING or RESERVED), and how old the oldest is.
    async fn in_flight(&self) -> anyhow::Result<InFlight>;
    /// The orders `filter` admits, newest first, after the given (created_at, id).
    async fn list(
        &self,
        filter: &OrderFilter,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> anyhow::Result<Vec<Order>>;
    /// Appends what another service told about an order to its timeline, in one transaction
    /// with the event's `inbox` entry.
    async fn append_event(
        &self,
        id: Uuid,
        entry: TimelineEntry,
        inbox: InboxEntry,
    ) -> anyhow::Result<Appended>;
}

/// What appending an event to a timeline came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    Appended,
    /// The event had been appended before (a redelivery).
    Duplicate,
    /// This service does not know the order (the event is recorded, and changes nothing).
    UnknownOrder,
}

/// Why a saga step did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The peer said no, for good: repeating the step will not change it.
    #[error("refused ({reason:?}): {detail}")]
    Refused {
        reason: RejectReason,
        detail: String,
    },
    /// No answer in time, or the peer is down: the step is idempotent, so it may be repeated.
    #[error("no answer: {0}")]
    Transient(String),
}

/// What inventory reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserved {
    pub lines: Vec<(Uuid, PricedLine)>,
    pub total: Money,
}

/// The inventory service, as the saga needs it.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait InventoryPort: Send + Sync {
    /// Holds the stock of every line (idempotent by order id) and prices them.
    async fn reserve(&self, order_id: Uuid, lines: &[RequestedLine])
    -> Result<Reserved, StepError>;
    /// Gives the order's held stock back (idempotent).
    async fn release(&self, order_id: Uuid) -> Result<(), StepError>;
}

/// What a charge came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Captured,
    /// No money was taken: declined, or stopped by a compensation. `reason` says which.
    NotPaid {
        reason: String,
    },
}

/// The payment service, as the saga needs it.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait PaymentPort: Send + Sync {
    /// Takes the money (idempotent by order id).
    async fn charge(
        &self,
        order_id: Uuid,
        user_id: Uuid,
        amount: &Money,
        card_token: &str,
    ) -> Result<ChargeOutcome, StepError>;
    /// Makes sure the order's payment keeps no money (idempotent; no payment is fine).
    async fn refund(&self, order_id: Uuid, reason: &str) -> Result<(), StepError>;
}

/// What storing a cart line came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CartWrite {
    Stored,
    /// The line is new and the cart already holds the most lines it may.
    Full,
}

/// Every customer's cart.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait CartStore: Send + Sync {
    /// The customer's lines, in the order they were first added.
    async fn lines(&self, user_id: Uuid) -> anyhow::Result<Vec<StoredCartLine>>;
    /// Sets one line (adding it when new, unless the cart holds `max_lines` already).
    async fn set(
        &self,
        user_id: Uuid,
        line: StoredCartLine,
        max_lines: usize,
    ) -> anyhow::Result<CartWrite>;
    async fn remove(&self, user_id: Uuid, product_id: Uuid) -> anyhow::Result<()>;
    async fn clear(&self, user_id: Uuid) -> anyhow::Result<()>;
    /// Adds a guest's lines in one transaction: each quantity onto the line the customer
    /// has (capped by the cart's bound), new lines while the cart has room.
    async fn merge(
        &self,
        user_id: Uuid,
        guest: Vec<StoredCartLine>,
        max_lines: usize,
    ) -> anyhow::Result<()>;
}

/// The catalog as the cart reads it.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait CatalogPort: Send + Sync {
    /// The products among `ids` that exist (inactive ones included), any order.
    async fn products(&self, ids: &[Uuid]) -> Result<Vec<CatalogProduct>, StepError>;
}
