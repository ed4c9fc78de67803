//! Field-level validation errors, free of any framework so domain code can produce them.

use std::fmt;

/// One field that failed validation, with a message fit for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field's name as the client sent it (`email`, `lines[2].quantity`).
    pub field: String,
    pub message: String,
}

/// Every problem found in one request; validation reports them all, not just the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Violations(Vec<Violation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Violation {
            field: field.into(),
            message: message.into(),
        });
    }

    /// The one rule for text from outside, everywhere: NUL and other control characters are
    /// refused (line breaks and tabs excepted), so they never reach a database (Postgres refuses
    /// NUL outright), a log line or a page. Returns whether `text` passed.
    pub fn text(&mut self, field: &str, text: &str) -> bool {
        if let Some(c) = forbidden_character(text) {
            self.add(
                field,
                format!(
                    "must not contain control characters (found U+{:04X})",
                    u32::from(c)
                ),
            );
            return false;
        }
        true
    }

    /// Keeps the value of a successful parse, or records the failure under `field`.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(err) => {
                self.add(field, err.to_string());
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Violation> {
        self.0.iter()
    }

    /// `Ok(())` when nothing was recorded.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }

    /// A single violation.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut violations = Self::new();
        violations.add(field, message);
        violations
    }
}

/// The first character of `text` that text from outside may not contain: a control character
/// other than a line break or a tab.
pub fn forbidden_character(text: &str) -> Option<char> {
    text.chars()
        .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|v| format!("{}: {}", v.field, v.message))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for Violations {}

impl IntoIterator for Violations {
    type Item = Violation;
    type IntoIter = std::vec::IntoIter<Violation>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_but_line_breaks_and_tabs_are_text() {
        assert_eq!(forbidden_character("plain text, ünïcode ✓"), None);
        assert_eq!(forbidden_character("two\nlines\r\n\tand a tab"), None);
        assert_eq!(forbidden_character("nul\u{0}"), Some('\u{0}'));
        assert_eq!(forbidden_character("escape\u{1b}[31m"), Some('\u{1b}'));
        assert_eq!(forbidden_character("delete\u{7f}"), Some('\u{7f}'));
        assert_eq!(forbidden_character("c1\u{85}"), Some('\u{85}'));

        let mut violations = Violations::new();
        assert!(violations.text("name", "Ferris"));
        assert!(!violations.text("name", "Fer\u{0}ris"));
        assert_eq!(
            violations.to_string(),
            "name: must not contain control characters (found U+0000)"
        );
    }
}
