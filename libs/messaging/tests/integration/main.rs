//! The integration tests of shop-messaging: one test binary, a module per subject
//! (a test binary per file would link the crate and its dependencies once per file).
//! nextest still runs every test in a process of its own.

mod support;

mod connection_loss;
mod consumer;
mod flags;
mod outbox;
mod trace_propagation;
