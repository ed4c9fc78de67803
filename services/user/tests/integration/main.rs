//! The integration tests of shop-user: one test binary, a module per subject
//! (a test binary per file would link the crate and its dependencies once per file).
//! nextest still runs every test in a process of its own.

mod support;

mod accounts;
mod events;
mod mails;
mod pact_consumer;
mod signing_keys;
