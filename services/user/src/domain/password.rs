//! The password policy: long enough, and bounded so hashing stays cheap to refuse. No rules on
//! kinds of characters: NIST SP 800-63B asks verifiers not to impose composition rules, since
//! they push people to predictable patterns (`Password1!`) without making passwords stronger;
//! length does.

use std::fmt;

/// Fewer characters than this is too weak (NIST SP 800-63B suggests at least 8; we ask 12).
pub const MIN_LENGTH: usize = 12;
/// More than this is refused before hashing, so a 10 MB "password" costs nothing.
pub const MAX_LENGTH: usize = 128;

/// A new password that meets the policy. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// What is wrong with a proposed password, phrased for the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("must be at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("must be at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacters,
}

impl Password {
    pub fn parse(raw: String) -> Result<Self, PasswordError> {
        // Cheap checks on byte length first, so a huge input is refused without a full scan.
        if raw.len() > MAX_LENGTH * 4 || raw.chars().count() > MAX_LENGTH {
            return Err(PasswordError::TooLong);
        }
        if raw.chars().count() < MIN_LENGTH {
            return Err(PasswordError::TooShort);
        }
        if raw.chars().any(char::is_control) {
            return Err(PasswordError::ControlCharacters);
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A password presented at login is not held to the policy (it was set under an older one,
/// perhaps), only bounded: empty is a client mistake, huge is an attack on our CPU.
pub fn check_login_password(raw: &str) -> Result<(), PasswordError> {
    if raw.is_empty() {
        return Err(PasswordError::TooShort);
    }
    if raw.len() > MAX_LENGTH * 4 || raw.chars().count() > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_password_is_accepted_whatever_characters_it_uses() {
        assert!(
            Password::parse("correct horse battery".to_owned()).is_ok(),
            "letters and spaces"
        );
        assert!(Password::parse("Tr0ub4dor&3xyz".to_owned()).is_ok());
        assert!(
            Password::parse("1234567890123".to_owned()).is_ok(),
            "length, not composition"
        );
    }

    #[test]
    fn weak_passwords_are_refused_with_a_clear_reason() {
        assert_eq!(
            Password::parse("Short1!".to_owned()),
            Err(PasswordError::TooShort)
        );
        assert_eq!(
            Password::parse("x".repeat(129)),
            Err(PasswordError::TooLong)
        );
        assert_eq!(
            Password::parse("tab\tinside password".to_owned()),
            Err(PasswordError::ControlCharacters)
        );
    }

    #[test]
    fn a_ten_megabyte_password_is_refused_without_being_hashed() {
        assert_eq!(
            Password::parse("A1".repeat(5_000_000)),
            Err(PasswordError::TooLong)
        );
        assert_eq!(
            check_login_password(&"A1".repeat(5_000_000)),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let password = Password::parse("Sup3r secret pass".to_owned()).unwrap();
        assert!(!format!("{password:?}").contains("secret"));
    }
}
