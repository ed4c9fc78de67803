//! Domain of the inventory service: products, stock and reservations, free of frameworks.
//!
//! The rules live here as plain functions over plain values; the Postgres adapter loads the
//! rows (locked), runs these rules, and writes the result back in the same transaction.

mod page;
mod product;
mod quantity;
mod reservation;
mod stock;

pub use page::{ListOrder, PageToken, PageTokenError};
pub use product::{MAX_ORDER_TOTAL_MINOR, MAX_PRICE_MINOR, NewProduct, Product, ProductPatch};
pub use quantity::{Quantity, QuantityError};
pub use reservation::{
    CommitOutcome, ReleaseReason, RequestedLine, Reservation, ReservationError, ReservationStatus,
    ReservedLine, StockBook, StockedProduct,
};
pub use stock::{Stock, StockError};
