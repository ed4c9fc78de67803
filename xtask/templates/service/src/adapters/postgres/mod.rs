//! Postgres adapters: the service's store.

mod notes;

pub use notes::PgNoteStore;
