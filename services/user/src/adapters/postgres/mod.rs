//! Postgres adapters: one store per port, each in its own file.

mod sessions;
mod signing_keys;
mod users;

pub use sessions::PgSessionStore;
pub use signing_keys::PgKeyStore;
pub use users::PgUserStore;
