//! The integration tests of shop-platform: one test binary, a module per subject
//! (a test binary per file would link the crate and its dependencies once per file).
//! nextest still runs every test in a process of its own.

mod balancing;
mod host;
mod migrations;
