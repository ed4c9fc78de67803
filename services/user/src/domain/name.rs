//! Display names.

/// A person's display name: at most 100 characters as sent, trimmed, not empty, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 100 characters")]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacters,
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, NameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        // The bound is on what was sent, as the API document states it, not on what is kept.
        if raw.chars().count() > 100 {
            return Err(NameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::ControlCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert_eq!(DisplayName::parse(" "), Err(NameError::Empty));
        assert_eq!(
            DisplayName::parse(&"n".repeat(101)),
            Err(NameError::TooLong)
        );
        assert_eq!(
            DisplayName::parse(&format!(" {}", "n".repeat(100))),
            Err(NameError::TooLong),
            "the bound counts what was sent"
        );
        assert_eq!(
            DisplayName::parse("a\u{7}b"),
            Err(NameError::ControlCharacters)
        );
    }
}
