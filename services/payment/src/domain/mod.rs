//! Domain of the payment service: a payment and the states it moves through, free of
//! frameworks.
//!
//! ```text
//!            authorize            capture
//! PENDING -------------> AUTHORIZED ------> CAPTURED ---refund---> REFUNDED
//!    |  \                    |
//!    |   declined            | void (compensation)
//!    |    +--> DECLINED      +--------------------> FAILED
//!    +-- stopped (compensation) -----------------> FAILED
//! ```

mod payment;

pub use payment::{CardToken, ChargeRequest, Payment, PaymentStatus};
