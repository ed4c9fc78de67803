//! The ports the payment use cases need. Adapters implement them; unit tests mock them.

use std::time::Duration;

use async_trait::async_trait;
use shop_events::Money;
use uuid::Uuid;

use crate::domain::{CardToken, Payment, PaymentStatus};

/// What the processor said about an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// Funds are held; `reference` is the processor's id for them.
    Approved { reference: String },
    /// The card was refused; nothing is held. `reason` is e.g. `card_declined`.
    Declined { reason: String },
}

/// Why a processor call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// No answer (a timeout, a 5xx, a dropped connection): the same call may succeed later,
    /// and because every call carries the payment's idempotency key, repeating it is safe.
    #[error("the card processor did not answer: {0}")]
    Transient(String),
    /// A definite refusal that repeating will not change.
    #[error("the card processor refused: {0}")]
    Rejected(String),
}

/// The card processor, in the shop's terms (the anti-corruption layer). Every call carries
/// the idempotency key (the order id): the processor applies each operation once per key.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait ProcessorPort: Send + Sync {
    /// Authorizes `amount` on `card` and captures it in the same call (a sale): one call and
    /// one answer per checkout. A repeat with the same key returns the first answer.
    async fn sale(
        &self,
        key: Uuid,
        amount: &Money,
        card: &CardToken,
    ) -> Result<Authorization, ProviderError>;
    /// Captures an authorization made without capture (payments left AUTHORIZED by versions
    /// that authorized and captured in two calls).
    async fn capture(&self, key: Uuid) -> Result<(), ProviderError>;
    /// Releases an authorization that will not be captured.
    async fn void(&self, key: Uuid) -> Result<(), ProviderError>;
    /// Gives captured funds back.
    async fn refund(&self, key: Uuid) -> Result<(), ProviderError>;
}

/// Why a payment could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The order has a payment for another amount or owner.
    #[error("the order was charged differently before")]
    Conflict(Box<Payment>),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The order's payment as `open` found or made it.
#[derive(Debug, Clone)]
pub struct Opened {
    pub payment: Payment,
    /// True when this call made the payment: it then holds the lease too (taken in the same
    /// write), so the first charge of an order needs no separate lease commit.
    pub leased: bool,
}

/// Payments, one per order. Every transition is conditional on the state it leaves, so two
/// actors can never both move one payment; the ones that end a talk with the processor also
/// give up the lease.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// The order's payment: a new PENDING one, leased to the caller for `lease`, or the one an
    /// earlier call opened (not leased: take the lease with `acquire_lease`).
    async fn open(
        &self,
        order_id: Uuid,
        user_id: Uuid,
        amount: &Money,
        lease: Duration,
    ) -> Result<Opened, OpenError>;
    async fn get(&self, order_id: Uuid) -> anyhow::Result<Option<Payment>>;
    /// Takes the right to talk to the processor for this payment for `lease`, unless someone
    /// else holds it or the payment is settled. Returns the payment when taken.
    async fn acquire_lease(
        &self,
        order_id: Uuid,
        lease: Duration,
    ) -> anyhow::Result<Option<Payment>>;
    async fn release_lease(&self, order_id: Uuid) -> anyhow::Result<()>;
    /// PENDING or AUTHORIZED -> CAPTURED, with the processor's reference; false when the
    /// payment was in neither state.
    async fn record_capture(&self, order_id: Uuid, reference: &str) -> anyhow::Result<bool>;
    /// PENDING -> DECLINED.
    async fn record_decline(&self, order_id: Uuid, reason: &str) -> anyhow::Result<bool>;
    /// `from` -> FAILED.
    async fn record_failure(
        &self,
        order_id: Uuid,
        from: PaymentStatus,
        reason: &str,
    ) -> anyhow::Result<bool>;
    /// CAPTURED -> REFUNDED, with `payment.refunded` in the outbox in the same transaction.
    async fn record_refund(&self, order_id: Uuid, reason: &str) -> anyhow::Result<bool>;
}
