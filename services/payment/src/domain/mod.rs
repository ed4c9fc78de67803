//! Domain of the payment service: a payment and the states it moves through, free of
//! frameworks.
//!
//! ```text
//!            sale (authorize and capture in one processor call)
//! PENDING ---------------------------------> CAPTURED ---refund---> REFUNDED
//!    |  \                                      ^
//!    |   declined                              | capture
//!    |    +--> DECLINED        AUTHORIZED -----+
//!    |                              | void (compensation)
//!    +-- stopped (compensation) ----+--------------------> FAILED
//! ```
//!
//! AUTHORIZED is no longer entered: payments are taken with one sale. It stays for payments
//! that earlier versions authorized and captured in two calls; they are captured or voided.

mod payment;

pub use payment::{CardToken, ChargeRequest, Payment, PaymentStatus};
