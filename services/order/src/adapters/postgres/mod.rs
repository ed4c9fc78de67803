//! Postgres adapters: the service's store.

mod orders;

pub use orders::PgOrderStore;
