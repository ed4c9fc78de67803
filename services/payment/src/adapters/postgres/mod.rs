//! Postgres adapters: the service's store.

mod payments;

pub use payments::PgPaymentStore;
