//! Money: integer minor units and an ISO 4217 code, as everywhere in the shop. Never a float;
//! arithmetic is checked (overflow and mixed currencies are errors, not wrong totals), and an
//! amount is written with as many decimals as its currency has (2 for EUR, 0 for JPY, 3 for
//! KWD), never by dividing by 100.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money: `amount_minor` units of the currency's minor unit (cents for EUR).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

/// Why an amount is not valid money, or an operation would not give valid money.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency must be a three-letter ISO 4217 code such as EUR")]
    Currency,
    #[error("amount must not be negative")]
    Negative,
    #[error("amount is too large")]
    Overflow,
    #[error("cannot combine {0} with {1}")]
    MixedCurrencies(String, String),
}

/// Currencies whose minor unit is not a hundredth (ISO 4217); every other has two decimals.
const EXPONENTS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

/// How many decimals an amount in `currency` has: 2 unless ISO 4217 says otherwise.
pub fn decimals(currency: &str) -> u32 {
    EXPONENTS
        .iter()
        .find(|(code, _)| *code == currency)
        .map_or(2, |(_, exponent)| *exponent)
}

impl Money {
    /// A non-negative amount in a well-formed currency.
    pub fn new(amount_minor: i64, currency: &str) -> Result<Self, MoneyError> {
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(MoneyError::Currency);
        }
        if amount_minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Self {
            amount_minor,
            currency: currency.to_owned(),
        })
    }

    pub fn zero(currency: &str) -> Result<Self, MoneyError> {
        Self::new(0, currency)
    }

    /// This amount `quantity` times.
    pub fn times(&self, quantity: i64) -> Result<Self, MoneyError> {
        let amount_minor = self
            .amount_minor
            .checked_mul(quantity)
            .ok_or(MoneyError::Overflow)?;
        Self::new(amount_minor, &self.currency)
    }

    /// The sum of two amounts in the same currency.
    pub fn plus(&self, other: &Self) -> Result<Self, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::MixedCurrencies(
                self.currency.clone(),
                other.currency.clone(),
            ));
        }
        let amount_minor = self
            .amount_minor
            .checked_add(other.amount_minor)
            .ok_or(MoneyError::Overflow)?;
        Self::new(amount_minor, &self.currency)
    }
}

/// `12.99 EUR`, `500 JPY`, `1.234 KWD`: the amount in major units with the currency's decimals.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decimals = decimals(&self.currency);
        let sign = if self.amount_minor < 0 { "-" } else { "" };
        let minor = self.amount_minor.unsigned_abs();
        if decimals == 0 {
            return write!(f, "{sign}{minor} {}", self.currency);
        }
        let unit = 10u64.pow(decimals);
        let width = decimals as usize;
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            minor / unit,
            minor % unit,
            self.currency
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn amounts_add_and_multiply_only_when_the_result_is_money() {
        let price = Money::new(1999, "EUR").unwrap();
        assert_eq!(price.times(3).unwrap(), Money::new(5997, "EUR").unwrap());
        assert_eq!(price.plus(&price).unwrap().amount_minor, 3998);
        assert_eq!(price.times(i64::MAX), Err(MoneyError::Overflow));
        assert!(matches!(
            price.plus(&Money::new(1, "USD").unwrap()),
            Err(MoneyError::MixedCurrencies(..))
        ));
        assert_eq!(Money::new(1, "eur"), Err(MoneyError::Currency));
        assert_eq!(Money::new(-1, "EUR"), Err(MoneyError::Negative));
    }

    #[test]
    fn an_amount_is_written_with_its_currencys_decimals() {
        let written = |minor, currency| Money::new(minor, currency).unwrap().to_string();
        assert_eq!(written(1299, "EUR"), "12.99 EUR");
        assert_eq!(written(5, "EUR"), "0.05 EUR");
        assert_eq!(written(500, "JPY"), "500 JPY");
        assert_eq!(written(1234, "KWD"), "1.234 KWD");
        assert_eq!(written(0, "USD"), "0.00 USD");
    }

    proptest! {
        #[test]
        fn the_written_amount_reads_back_as_the_same_minor_units(
            minor in 0i64..i64::MAX,
            currency in prop::sample::select(vec!["EUR", "JPY", "KWD", "CLF"]),
        ) {
            let written = Money::new(minor, currency).unwrap().to_string();
            let number = written.split(' ').next().unwrap().replace('.', "");
            prop_assert_eq!(number.parse::<i64>().unwrap(), minor);
        }
    }
}
