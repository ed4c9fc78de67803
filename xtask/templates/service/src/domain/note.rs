//! A note: who wrote what, and when. Its text is checked once, where it is made.

use chrono::{DateTime, SubsecRound as _, Utc};
use uuid::Uuid;

/// The longest note, in characters.
pub const MAX_TEXT: usize = 500;

/// A note's text: not empty, at most [`MAX_TEXT`] characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteText(String);

impl NoteText {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must not be empty");
        }
        if text.chars().count() > MAX_TEXT {
            return Err("must be at most 500 characters");
        }
        if text.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A note. Made by [`Note::write`], brought back from storage by [`Note::restore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    id: Uuid,
    author_id: Uuid,
    text: NoteText,
    created_at: DateTime<Utc>,
}

impl Note {
    /// A new note by `author_id`. Its time is kept to the microsecond, as Postgres keeps it,
    /// so a note reads back exactly as it was written.
    pub fn write(id: Uuid, author_id: Uuid, text: NoteText, now: DateTime<Utc>) -> Self {
        Self {
            id,
            author_id,
            text,
            created_at: now.trunc_subsecs(6),
        }
    }

    /// A note as it was stored.
    pub fn restore(id: Uuid, author_id: Uuid, text: String, created_at: DateTime<Utc>) -> Self {
        Self {
            id,
            author_id,
            text: NoteText(text),
            created_at,
        }
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    pub fn author_id(&self) -> Uuid {
        self.author_id
    }

    pub fn text(&self) -> &str {
        self.text.as_str()
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_trimmed_and_bounded_and_free_of_control_characters() {
        assert_eq!(NoteText::parse("  hello ").unwrap().as_str(), "hello");
        assert!(NoteText::parse("   ").is_err());
        assert!(NoteText::parse(&"x".repeat(MAX_TEXT + 1)).is_err());
        assert!(NoteText::parse("nul\u{0}byte").is_err());
        assert!(NoteText::parse(&"é".repeat(MAX_TEXT)).is_ok());
    }
}
