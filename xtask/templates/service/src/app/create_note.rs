//! CreateNote: a customer writes a note.

use chrono::Utc;
use shop_auth::Caller;
use shop_kernel::Violations;
use uuid::Uuid;

use super::{NoteError, Notes};
use crate::domain::{Note, NoteText};

impl Notes {
    #[tracing::instrument(name = "notes.create", skip_all, err(Debug))]
    pub async fn create_note(&self, caller: &Caller, text: &str) -> Result<Note, NoteError> {
        let text = NoteText::parse(text)
            .map_err(|reason| NoteError::Invalid(Violations::single("text", reason)))?;
        let note = Note::write(Uuid::now_v7(), caller.user_id(), text, Utc::now());
        self.store.insert(&note).await?;
        Ok(note)
    }
}
