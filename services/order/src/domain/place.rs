//! What a customer asks for when placing an order, validated, and its fingerprint.

use sha2::{Digest as _, Sha256};
use shop_kernel::Violations;
use uuid::Uuid;

/// The most distinct products in one order, and units of one product.
pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: i64 = 10_000;
pub const MAX_KEY: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedLine {
    pub product_id: Uuid,
    pub quantity: i64,
}

/// A validated PlaceOrder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub idempotency_key: String,
    /// Sorted by product id: the normal form the fingerprint is taken of.
    pub lines: Vec<RequestedLine>,
    pub card_token: String,
}

impl OrderRequest {
    pub fn parse(
        idempotency_key: &str,
        lines: &[(String, i64)],
        card_token: &str,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let key = idempotency_key.trim();
        if key.is_empty() {
            violations.add("idempotency_key", "is required");
        } else if key.len() > MAX_KEY || key.chars().any(char::is_control) {
            violations.add(
                "idempotency_key",
                format!("must be at most {MAX_KEY} printable characters"),
            );
        }
        if lines.is_empty() {
            violations.add("items", "must not be empty");
        } else if lines.len() > MAX_LINES {
            violations.add(
                "items",
                format!("at most {MAX_LINES} different products per order"),
            );
        }
        let mut parsed = Vec::with_capacity(lines.len());
        for (i, (product_id, quantity)) in lines.iter().enumerate() {
            let product_id = violations.check(
                &format!("items[{i}].product_id"),
                Uuid::parse_str(product_id).map_err(|_| "must be a UUID"),
            );
            if !(1..=MAX_QUANTITY).contains(quantity) {
                violations.add(
                    format!("items[{i}].quantity"),
                    format!("must be between 1 and {MAX_QUANTITY}"),
                );
            } else if let Some(product_id) = product_id {
                if parsed
                    .iter()
                    .any(|l: &RequestedLine| l.product_id == product_id)
                {
                    violations.add(format!("items[{i}].product_id"), "appears more than once");
                } else {
                    parsed.push(RequestedLine {
                        product_id,
                        quantity: *quantity,
                    });
                }
            }
        }
        let card = card_token;
        let token_shaped = (1..=64).contains(&card.len())
            && card.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !token_shaped {
            violations.add(
                "card_token",
                "must be a card token such as tok_visa (1 to 64 letters, digits or _)",
            );
        }
        violations.into_result()?;
        parsed.sort_by_key(|l| l.product_id);
        Ok(Self {
            idempotency_key: key.to_owned(),
            lines: parsed,
            card_token: card.to_owned(),
        })
    }
}

/// Identifies the content of a request: two requests with one idempotency key must have the
/// same fingerprint to be the same request.
pub fn fingerprint(request: &OrderRequest) -> Vec<u8> {
    let mut hash = Sha256::new();
    for line in &request.lines {
        hash.update(line.product_id.as_bytes());
        hash.update(line.quantity.to_be_bytes());
    }
    hash.update(request.card_token.as_bytes());
    hash.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_token_is_1_to_64_letters_digits_or_underscores_as_given() {
        let line = [(Uuid::now_v7().to_string(), 1)];
        for fine in ["tok_visa", "tok_chargeDeclined", &"t".repeat(64)] {
            assert!(OrderRequest::parse("k", &line, fine).is_ok(), "{fine}");
        }
        for refused in [
            "",
            " tok_visa",
            "tok visa",
            "tok-visa",
            "tök",
            &"t".repeat(65),
        ] {
            let err = OrderRequest::parse("k", &line, refused).unwrap_err();
            assert_eq!(err.iter().next().unwrap().field, "card_token", "{refused}");
        }
    }

    #[test]
    fn line_order_does_not_change_the_fingerprint_but_content_does() {
        let (a, b) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
        let one = OrderRequest::parse("k", &[(a.clone(), 1), (b.clone(), 2)], "tok_visa").unwrap();
        let same = OrderRequest::parse("k", &[(b.clone(), 2), (a.clone(), 1)], "tok_visa").unwrap();
        let other = OrderRequest::parse("k", &[(a, 1), (b, 3)], "tok_visa").unwrap();
        assert_eq!(fingerprint(&one), fingerprint(&same));
        assert_ne!(fingerprint(&one), fingerprint(&other));
    }

    #[test]
    fn every_problem_of_a_request_is_reported() {
        let id = Uuid::now_v7().to_string();
        let err = OrderRequest::parse("", &[(id.clone(), 1), (id, 0), ("x".to_owned(), 1)], "")
            .unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.clone()).collect();
        assert_eq!(
            fields,
            [
                "idempotency_key",
                "items[1].quantity",
                "items[2].product_id",
                "card_token"
            ]
        );
    }
}
