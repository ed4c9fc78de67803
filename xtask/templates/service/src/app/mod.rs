//! Use cases of the {{name}} service, one file each, and the ports they depend on.

mod create_note;
mod error;
mod get_note;
mod order_events;
pub mod ports;

use std::sync::Arc;

pub use error::NoteError;
use ports::NoteStore;

/// The {{name}} service's application: every use case is a method, in its own file.
#[derive(Clone)]
pub struct Notes {
    store: Arc<dyn NoteStore>,
}

impl std::fmt::Debug for Notes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notes").finish_non_exhaustive()
    }
}

impl Notes {
    pub fn new(store: Arc<dyn NoteStore>) -> Self {
        Self { store }
    }
}
