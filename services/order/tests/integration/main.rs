//! The integration tests of shop-order: one test binary, a module per subject
//! (a test binary per file would link the crate and its dependencies once per file).
//! nextest still runs every test in a process of its own.

mod support;

mod attacks;
mod cart;
mod checkout;
mod fulfilment;
mod invariants;
mod listing;
mod pact_consumer;
mod pact_provider;
mod recovery;
mod saga;
mod sessions;
