//! The ports the inventory use cases need. Adapters implement them; unit tests mock them.

use async_trait::async_trait;
use shop_messaging::InboxEntry;
use uuid::Uuid;

use crate::domain::{
    CommitOutcome, ListOrder, NewProduct, PageToken, Product, ProductPatch, ReleaseReason,
    RequestedLine, Reservation, ReservationError,
};

/// One page of the catalog, in listing order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Start after this row (keyset).
    pub after: Option<PageToken>,
    /// Rows to return; the use case asks one more than it shows, to know if a page follows.
    pub limit: i64,
    /// Case-insensitive substring of name or description.
    pub text: Option<String>,
    pub include_inactive: bool,
    pub order: ListOrder,
}

#[derive(Debug, thiserror::Error)]
pub enum AdjustError {
    #[error("no such product")]
    NotFound,
    #[error("only {available} available; cannot write off {requested}")]
    Insufficient { available: i64, requested: i64 },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The catalog. Every write also records `product.changed` in the outbox, in its transaction.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait CatalogStore: Send + Sync {
    async fn list(&self, query: &ListQuery) -> anyhow::Result<Vec<Product>>;
    async fn get(&self, id: Uuid) -> anyhow::Result<Option<Product>>;
    /// The products that exist among `ids`, in any order.
    async fn batch_get(&self, ids: &[Uuid]) -> anyhow::Result<Vec<Product>>;
    /// Creates the product, or returns the one an earlier call with `request_id` created.
    async fn create(&self, request_id: Uuid, product: NewProduct) -> anyhow::Result<Product>;
    async fn update(&self, id: Uuid, patch: ProductPatch) -> anyhow::Result<Option<Product>>;
    /// Applies `delta` to available stock once per `request_id`.
    async fn adjust_stock(
        &self,
        request_id: Uuid,
        id: Uuid,
        delta: i64,
    ) -> Result<Product, AdjustError>;
    /// Forgets anything cached about these products (their stock moved elsewhere).
    async fn invalidate(&self, _ids: &[Uuid]) {}
}

#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error(transparent)]
    Rule(#[from] ReservationError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Reservations and the stock they move, each operation one transaction over the reservation
/// and its products, locked in product-id order.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ReservationStore: Send + Sync {
    /// Reserves every line or none; a retry with the same order id returns the reservation.
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: Vec<RequestedLine>,
        ttl: chrono::Duration,
    ) -> Result<Reservation, ReserveError>;
    /// Gives held stock back; `None` when the order never reserved anything.
    async fn release(
        &self,
        order_id: Uuid,
        reason: ReleaseReason,
    ) -> anyhow::Result<Option<Reservation>>;
    /// Releases up to `limit` reservations whose TTL has passed; returns the products touched.
    async fn expire_due(&self, limit: i64) -> anyhow::Result<Vec<Uuid>>;
    /// `order.confirmed`: the order's held stock becomes sold, in one transaction with the
    /// event's inbox `entry`. An order that never reserved stock is an error.
    async fn sell(
        &self,
        order_id: Uuid,
        entry: InboxEntry,
    ) -> anyhow::Result<StockEffect<CommitOutcome>>;
    /// `order.cancelled`: the order's goods go back on the shelf (whether they were held or
    /// sold), in one transaction with the event's inbox `entry`; `false` when there was nothing
    /// to restock.
    async fn restock(&self, order_id: Uuid, entry: InboxEntry)
    -> anyhow::Result<StockEffect<bool>>;
}

/// What an order event did to stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StockEffect<T> {
    /// The event had been applied before: nothing changed.
    Duplicate,
    /// Applied now, with the rule's outcome and the products whose stock changed.
    Applied { outcome: T, touched: Vec<Uuid> },
}
