//! A payment and the rules of its states.

use chrono::{DateTime, Utc};
use shop_kernel::Money;
use shop_kernel::Violations;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatus {
    Pending,
    Authorized,
    Captured,
    Declined,
    Refunded,
    Failed,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Authorized => "AUTHORIZED",
            Self::Captured => "CAPTURED",
            Self::Declined => "DECLINED",
            Self::Refunded => "REFUNDED",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "PENDING" => Some(Self::Pending),
            "AUTHORIZED" => Some(Self::Authorized),
            "CAPTURED" => Some(Self::Captured),
            "DECLINED" => Some(Self::Declined),
            "REFUNDED" => Some(Self::Refunded),
            "FAILED" => Some(Self::Failed),
            _ => None,
        }
    }

    /// Whether a charge has reached its outcome (no more talking to the processor).
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            Self::Captured | Self::Declined | Self::Refunded | Self::Failed
        )
    }

    /// Whether money is held or taken (what a refund must give back).
    pub fn holds_money(self) -> bool {
        matches!(self, Self::Authorized | Self::Captured)
    }
}

/// A payment as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub status: PaymentStatus,
    pub amount: Money,
    pub provider_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub refunded_at: Option<DateTime<Utc>>,
}

/// A token that stands for a card at the processor (`tok_visa`); never a card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardToken(String);

impl CardToken {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let valid = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        // A card number has no business here: refuse anything that looks like one.
        let digits = raw.bytes().filter(u8::is_ascii_digit).count();
        if !valid {
            Err("must be a card token such as tok_visa")
        } else if digits >= 12 {
            Err("must be a card token, never a card number")
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated Charge call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub amount: Money,
    pub card: CardToken,
}

impl ChargeRequest {
    pub fn parse(
        order_id: &str,
        user_id: &str,
        amount: Option<(i64, &str)>,
        card_token: &str,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let order_id = violations.check(
            "order_id",
            Uuid::parse_str(order_id).map_err(|_| "must be a UUID"),
        );
        let user_id = violations.check(
            "user_id",
            Uuid::parse_str(user_id).map_err(|_| "must be a UUID"),
        );
        let amount = match amount {
            None => {
                violations.add("amount", "is required");
                None
            }
            Some((minor, _)) if minor <= 0 => {
                violations.add("amount.amount_minor", "must be positive");
                None
            }
            Some((minor, currency)) => violations.check("amount", Money::new(minor, currency)),
        };
        let card = violations.check("card_token", CardToken::parse(card_token));
        match (order_id, user_id, amount, card) {
            (Some(order_id), Some(user_id), Some(amount), Some(card)) => Ok(Self {
                order_id,
                user_id,
                amount,
                card,
            }),
            _ => Err(violations),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_number_is_never_accepted_as_a_token() {
        assert!(CardToken::parse("tok_visa").is_ok());
        assert!(CardToken::parse("4242424242424242").is_err());
        assert!(CardToken::parse("").is_err());
        assert!(CardToken::parse("tok visa").is_err());
    }

    #[test]
    fn every_bad_field_of_a_charge_is_reported() {
        let err = ChargeRequest::parse("x", "y", Some((0, "EUR")), "").unwrap_err();
        let fields: Vec<_> = err.iter().map(|v| v.field.clone()).collect();
        assert_eq!(
            fields,
            ["order_id", "user_id", "amount.amount_minor", "card_token"]
        );
    }

    #[test]
    fn settled_states_and_money_holding_states_are_what_the_diagram_says() {
        use PaymentStatus::*;
        for (status, settled, holds) in [
            (Pending, false, false),
            (Authorized, false, true),
            (Captured, true, true),
            (Declined, true, false),
            (Refunded, true, false),
            (Failed, true, false),
        ] {
            assert_eq!(status.is_settled(), settled, "{status:?}");
            assert_eq!(status.holds_money(), holds, "{status:?}");
            assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
        }
    }
}
