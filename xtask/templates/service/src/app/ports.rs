//! The ports the use cases need. Adapters implement them; unit tests mock them.

use async_trait::async_trait;
use shop_messaging::{Handled, InboxEntry};
use uuid::Uuid;

use crate::domain::Note;

/// The notes, in the service's own database.
#[cfg_attr(test, mockall::automock)]
#[async_trait]
pub trait NoteStore: Send + Sync {
    async fn insert(&self, note: &Note) -> anyhow::Result<()>;
    async fn get(&self, id: Uuid) -> anyhow::Result<Option<Note>>;
    /// Inserts `note` in one transaction with an event's `inbox` entry: once per event.
    async fn insert_once(&self, note: &Note, inbox: InboxEntry) -> anyhow::Result<Handled>;
}
