//! Catalog orders and keyset pagination tokens: where the previous page ended, opaque to
//! clients.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How a listing is ordered. Every order ends with (lower-cased name, id), so it is total and
/// keyset pages neither repeat nor skip a product.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ListOrder {
    #[default]
    #[serde(rename = "n")]
    Name,
    #[serde(rename = "pa")]
    PriceAscending,
    #[serde(rename = "pd")]
    PriceDescending,
}

impl ListOrder {
    pub const fn by_price(self) -> bool {
        matches!(self, Self::PriceAscending | Self::PriceDescending)
    }
}

/// The last row of a page in listing order, and the order it was listed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageToken {
    /// Tokens issued before listings had an order were by name.
    #[serde(rename = "o", default)]
    pub order: ListOrder,
    /// The last row's price in minor units, for the orders by price.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub price_minor: Option<i64>,
    #[serde(rename = "n")]
    pub name: String,
    #[serde(rename = "i")]
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageTokenError {
    #[error("is not a page token from a previous response")]
    Garbled,
    #[error("continues another order than the one asked for; start again without it")]
    OtherOrder,
}

impl PageToken {
    /// Where a page ends: after `last`, listed in `order`.
    pub fn after(order: ListOrder, name: &str, price_minor: i64, id: Uuid) -> Self {
        Self {
            order,
            price_minor: order.by_price().then_some(price_minor),
            name: name.to_lowercase(),
            id,
        }
    }

    pub fn encode(&self) -> String {
        // Serialising plain fields cannot fail.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// A token for a listing in `order`: garbage, or a token of another order, is refused.
    pub fn decode(token: &str, order: ListOrder) -> Result<Self, PageTokenError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| PageTokenError::Garbled)?;
        let token: Self = serde_json::from_slice(&bytes).map_err(|_| PageTokenError::Garbled)?;
        if token.order.by_price() && token.price_minor.is_none() {
            return Err(PageTokenError::Garbled);
        }
        if token.order != order {
            return Err(PageTokenError::OtherOrder);
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let token = PageToken::after(ListOrder::Name, "Mug", 1250, Uuid::now_v7());
        assert_eq!(token.name, "mug");
        assert_eq!(token.price_minor, None);
        assert_eq!(
            PageToken::decode(&token.encode(), ListOrder::Name).unwrap(),
            token
        );
        assert_eq!(
            PageToken::decode("not a token", ListOrder::Name),
            Err(PageTokenError::Garbled)
        );
        assert_eq!(
            PageToken::decode("", ListOrder::Name),
            Err(PageTokenError::Garbled)
        );
    }

    #[test]
    fn a_token_continues_only_its_own_order() {
        let token = PageToken::after(ListOrder::PriceDescending, "Mug", 1250, Uuid::now_v7());
        assert_eq!(token.price_minor, Some(1250));
        let encoded = token.encode();
        assert_eq!(
            PageToken::decode(&encoded, ListOrder::PriceDescending).unwrap(),
            token
        );
        for other in [ListOrder::Name, ListOrder::PriceAscending] {
            assert_eq!(
                PageToken::decode(&encoded, other),
                Err(PageTokenError::OtherOrder)
            );
        }
    }

    #[test]
    fn a_token_from_before_orders_existed_continues_by_name() {
        let id = Uuid::now_v7();
        let old = URL_SAFE_NO_PAD.encode(format!(r#"{{"n":"mug","i":"{id}"}}"#));
        let token = PageToken::decode(&old, ListOrder::Name).unwrap();
        assert_eq!(
            (token.order, token.name, token.id),
            (ListOrder::Name, "mug".to_owned(), id)
        );
    }

    #[test]
    fn a_price_order_token_without_its_price_is_garbage() {
        let id = Uuid::now_v7();
        let forged = URL_SAFE_NO_PAD.encode(format!(r#"{{"o":"pa","n":"mug","i":"{id}"}}"#));
        assert_eq!(
            PageToken::decode(&forged, ListOrder::PriceAscending),
            Err(PageTokenError::Garbled)
        );
    }
}
