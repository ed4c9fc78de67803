//! Use cases of the payment service, one file each, and the ports they depend on.

mod charge;
mod error;
mod get_payment;
pub mod ports;
mod refund;

use std::sync::Arc;
use std::time::Duration;

use backon::ExponentialBuilder;
pub use error::PaymentError;
use ports::{PaymentStore, ProcessorPort};

/// How hard the use cases try before giving up.
#[derive(Debug, Clone, Copy)]
pub struct PaymentPolicy {
    /// How long one holder may talk to the processor before others may take over.
    pub lease: Duration,
    /// How long a call waits for another caller's talk with the processor to finish.
    pub max_wait: Duration,
    /// Attempts per processor operation, for transient failures only.
    pub provider_attempts: usize,
}

/// The payment service's application: every use case is a method, in its own file.
#[derive(Clone)]
pub struct Payments {
    payments: Arc<dyn PaymentStore>,
    provider: Arc<dyn ProcessorPort>,
    policy: PaymentPolicy,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Payments {
    pub fn new(
        payments: Arc<dyn PaymentStore>,
        provider: Arc<dyn ProcessorPort>,
        policy: PaymentPolicy,
    ) -> Self {
        Self {
            payments,
            provider,
            policy,
        }
    }

    /// Backoff between attempts of one processor operation.
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_millis(500))
            .with_max_times(self.policy.provider_attempts.saturating_sub(1))
            .with_jitter()
    }
}
