//! The shared vocabulary of Ferris Shop's domain code: [`Money`], typed ids, [`Role`] and
//! validation [`Violations`]. Domain modules may use this crate and nothing heavier: it does no
//! I/O and pulls in no framework (`tests/architecture` holds every service to that).

pub mod country;
mod ids;
mod money;
mod role;
pub mod validation;

pub use ids::{LeaseToken, OrderId, ProductId, UserId};
pub use money::{Money, MoneyError, decimals};
pub use role::Role;
pub use validation::{Violation, Violations};
