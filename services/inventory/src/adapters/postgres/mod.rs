//! Postgres adapters: the catalog, and the reservations with the stock they move.

mod catalog;
mod reservations;
mod rows;

pub use catalog::PgCatalogStore;
pub use reservations::PgReservationStore;
