//! What a customer asks for when placing an order, validated, and its fingerprint.

use sha2::{Digest as _, Sha256};
use shop_kernel::{Money, Violations};
use uuid::Uuid;

use super::shipping::{AddressInput, ShippingAddress, ShippingMethod};

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
    /// Sorted by product id: the normal form the fingerprint is taken of. Empty: the order is
    /// the customer's cart.
    pub lines: Vec<RequestedLine>,
    pub card_token: String,
    pub address: ShippingAddress,
    pub method: ShippingMethod,
    /// The total the customer was shown (subtotal and shipping); checkout refuses another.
    pub expected_total: Option<Money>,
}

/// A PlaceOrder as it arrives, before validation.
#[derive(Debug, Clone, Default)]
pub struct PlaceInput<'a> {
    pub idempotency_key: &'a str,
    pub lines: &'a [(String, i64)],
    pub card_token: &'a str,
    pub address: AddressInput<'a>,
    pub method: &'a str,
    pub expected_total: Option<Result<Money, String>>,
}

impl OrderRequest {
    /// Every problem of the request at once, each naming its field.
    pub fn parse(input: &PlaceInput<'_>) -> Result<Self, Violations> {
        let (idempotency_key, lines, card_token) =
            (input.idempotency_key, input.lines, input.card_token);
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
        if lines.len() > MAX_LINES {
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
        let address = ShippingAddress::parse(&input.address, "shipping_address", &mut violations);
        let method = ShippingMethod::parse(input.method);
        if method.is_none() {
            violations.add("shipping_method", "must be standard or express");
        }
        let expected_total = input
            .expected_total
            .clone()
            .and_then(|total| violations.check("expected_total", total));
        violations.into_result()?;
        let (Some(address), Some(method)) = (address, method) else {
            return Err(Violations::single("shipping_address", "is required"));
        };
        parsed.sort_by_key(|l| l.product_id);
        Ok(Self {
            idempotency_key: key.to_owned(),
            lines: parsed,
            card_token: card.to_owned(),
            address,
            method,
            expected_total,
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
    let a = &request.address;
    for field in [
        &a.name,
        &a.line1,
        &a.line2,
        &a.city,
        &a.postal_code,
        a.country.as_str(),
        request.method.as_str(),
    ] {
        // Length-prefixed, so no two different addresses hash alike.
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    if let Some(total) = &request.expected_total {
        hash.update(total.amount_minor.to_be_bytes());
        hash.update(total.currency.as_bytes());
    }
    hash.finalize().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const IRISH: AddressInput<'static> = AddressInput {
        name: "Ann Reader",
        line1: "1 Crab Lane",
        line2: "",
        city: "Dublin",
        postal_code: "D02 X285",
        country: "IE",
    };

    fn parse(key: &str, lines: &[(String, i64)], card: &str) -> Result<OrderRequest, Violations> {
        OrderRequest::parse(&PlaceInput {
            idempotency_key: key,
            lines,
            card_token: card,
            address: IRISH,
            method: "standard",
            expected_total: None,
        })
    }

    #[test]
    fn a_card_token_is_1_to_64_letters_digits_or_underscores_as_given() {
        let line = [(Uuid::now_v7().to_string(), 1)];
        for fine in ["tok_visa", "tok_chargeDeclined", &"t".repeat(64)] {
            assert!(parse("k", &line, fine).is_ok(), "{fine}");
        }
        for refused in [
            "",
            " tok_visa",
            "tok visa",
            "tok-visa",
            "tök",
            &"t".repeat(65),
        ] {
            let err = parse("k", &line, refused).unwrap_err();
            assert_eq!(err.iter().next().unwrap().field, "card_token", "{refused}");
        }
    }

    #[test]
    fn line_order_does_not_change_the_fingerprint_but_content_does() {
        let (a, b) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
        let one = parse("k", &[(a.clone(), 1), (b.clone(), 2)], "tok_visa").unwrap();
        let same = parse("k", &[(b.clone(), 2), (a.clone(), 1)], "tok_visa").unwrap();
        let other = parse("k", &[(a, 1), (b, 3)], "tok_visa").unwrap();
        assert_eq!(fingerprint(&one), fingerprint(&same));
        assert_ne!(fingerprint(&one), fingerprint(&other));
        let mut elsewhere = one.clone();
        elsewhere.address.city = "Cork".to_owned();
        let mut faster = one.clone();
        faster.method = ShippingMethod::Express;
        assert_ne!(fingerprint(&one), fingerprint(&elsewhere));
        assert_ne!(fingerprint(&one), fingerprint(&faster));
    }

    #[test]
    fn no_lines_means_the_cart_and_the_address_and_method_are_checked() {
        assert!(parse("k", &[], "tok_visa").unwrap().lines.is_empty());
        let err = OrderRequest::parse(&PlaceInput {
            idempotency_key: "k",
            card_token: "tok_visa",
            method: "drone",
            address: AddressInput {
                country: "XX",
                ..IRISH
            },
            expected_total: Some(Err("is not valid money".to_owned())),
            ..PlaceInput::default()
        })
        .unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.clone()).collect();
        assert_eq!(
            fields,
            [
                "shipping_address.country",
                "shipping_method",
                "expected_total"
            ]
        );
    }

    #[test]
    fn every_problem_of_a_request_is_reported() {
        let id = Uuid::now_v7().to_string();
        let err = parse("", &[(id.clone(), 1), (id, 0), ("x".to_owned(), 1)], "").unwrap_err();
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
