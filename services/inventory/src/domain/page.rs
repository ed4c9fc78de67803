//! Keyset pagination tokens: where the previous page ended, opaque to clients.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The last row of a page in listing order (lower-cased name, then id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageToken {
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "i")]
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a page token from a previous response")]
pub struct PageTokenError;

impl PageToken {
    pub fn encode(&self) -> String {
        // Serialising two plain fields cannot fail.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(token: &str) -> Result<Self, PageTokenError> {
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| PageTokenError)?;
        serde_json::from_slice(&bytes).map_err(|_| PageTokenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let token = PageToken {
            name: "mug".to_owned(),
            id: Uuid::now_v7(),
        };
        assert_eq!(PageToken::decode(&token.encode()).unwrap(), token);
        assert_eq!(PageToken::decode("not a token"), Err(PageTokenError));
        assert_eq!(PageToken::decode(""), Err(PageTokenError));
    }
}
