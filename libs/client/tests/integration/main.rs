//! The integration tests of shop-client: one test binary, a module per subject.

mod pact_consumer;
