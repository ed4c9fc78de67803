//! GetNote: anyone reads a note by its id.

use shop_kernel::Violations;
use uuid::Uuid;

use super::{NoteError, Notes};
use crate::domain::Note;

impl Notes {
    pub async fn get_note(&self, id: &str) -> Result<Note, NoteError> {
        let id = Uuid::parse_str(id)
            .map_err(|_| NoteError::Invalid(Violations::single("note_id", "must be a UUID")))?;
        self.store.get(id).await?.ok_or(NoteError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::app::ports::MockNoteStore;
    use crate::app::{NoteError, Notes};

    #[tokio::test]
    async fn an_id_that_is_not_a_uuid_is_refused_naming_the_field_without_a_lookup() {
        let mut store = MockNoteStore::new();
        store.expect_get().never();
        let notes = Notes::new(Arc::new(store));
        let NoteError::Invalid(violations) = notes.get_note("42").await.unwrap_err() else {
            panic!("expected invalid input")
        };
        assert_eq!(violations.iter().next().unwrap().field, "note_id");
    }

    #[tokio::test]
    async fn an_unknown_note_is_not_found() {
        let mut store = MockNoteStore::new();
        store.expect_get().returning(|_| Ok(None));
        let notes = Notes::new(Arc::new(store));
        let err = notes
            .get_note(&uuid::Uuid::now_v7().to_string())
            .await
            .unwrap_err();
        assert!(matches!(err, NoteError::NotFound), "{err:?}");
    }
}
