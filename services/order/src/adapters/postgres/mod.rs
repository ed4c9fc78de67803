//! Postgres adapters: the service's store.

mod carts;
mod orders;

pub use carts::PgCartStore;
pub use orders::PgOrderStore;
