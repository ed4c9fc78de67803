//! Where an order goes and how: the shipping address, the method, and what shipping costs.
//!
//! The shop ships from Ireland. Countries fall into three zones (Ireland, the rest of the
//! European Union, the rest of the world); each zone prices the two methods, and standard
//! shipping is free above a zone's threshold. The quote depends only on the country, the method
//! and the subtotal, so checkout computes it again and compares it with what the customer saw.

use shop_kernel::{Money, MoneyError, Violations};

/// The shop's currency: prices, quotes and totals are in it.
pub const SHOP_CURRENCY: &str = "EUR";

/// The most characters of each address field.
pub const MAX_ADDRESS_FIELD: usize = 100;
pub const MAX_POSTAL_CODE: usize = 16;

/// The member states of the European Union, by ISO code.
const EU: &str = "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK";

/// Where the shop ships from.
const HOME: &str = "IE";

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country(String);

impl Country {
    pub fn parse(code: &str) -> Result<Self, &'static str> {
        let known = code.len() == 2
            && code.bytes().all(|b| b.is_ascii_uppercase())
            && shop_kernel::country::is_assigned(code);
        if known {
            Ok(Self(code.to_owned()))
        } else {
            Err("must be an ISO 3166-1 alpha-2 country code in capitals, such as IE or DE")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn zone(&self) -> Zone {
        if self.0 == HOME {
            Zone::Domestic
        } else if EU.split_ascii_whitespace().any(|c| c == self.0) {
            Zone::EuropeanUnion
        } else {
            Zone::World
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    Domestic,
    EuropeanUnion,
    World,
}

/// How an order travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShippingMethod {
    Standard,
    Express,
}

impl ShippingMethod {
    pub const ALL: [Self; 2] = [Self::Standard, Self::Express];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Express => "express",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// One method as quoted for a country and a subtotal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingOption {
    pub method: ShippingMethod,
    pub price: Money,
    /// Working days on the way, at least and at most.
    pub days: (u32, u32),
}

/// (price in cents, days) of each method in each zone, and the subtotal in cents from which
/// standard shipping is free (none: never).
fn tariff(zone: Zone, method: ShippingMethod) -> (i64, (u32, u32), Option<i64>) {
    match (zone, method) {
        (Zone::Domestic, ShippingMethod::Standard) => (495, (2, 3), Some(5_000)),
        (Zone::Domestic, ShippingMethod::Express) => (995, (1, 1), None),
        (Zone::EuropeanUnion, ShippingMethod::Standard) => (995, (3, 6), Some(10_000)),
        (Zone::EuropeanUnion, ShippingMethod::Express) => (1_995, (1, 2), None),
        (Zone::World, ShippingMethod::Standard) => (1_995, (5, 12), None),
        (Zone::World, ShippingMethod::Express) => (3_995, (2, 4), None),
    }
}

/// What `method` to `country` costs for an order of `subtotal`.
pub fn quote(
    country: &Country,
    method: ShippingMethod,
    subtotal: &Money,
) -> Result<ShippingOption, MoneyError> {
    let (price, days, free_from) = tariff(country.zone(), method);
    let free = free_from.is_some_and(|from| subtotal.amount_minor >= from);
    Ok(ShippingOption {
        method,
        price: Money::new(if free { 0 } else { price }, SHOP_CURRENCY)?,
        days,
    })
}

/// Every method to `country`, for an order of `subtotal`.
pub fn options(country: &Country, subtotal: &Money) -> Result<Vec<ShippingOption>, MoneyError> {
    ShippingMethod::ALL
        .into_iter()
        .map(|method| quote(country, method, subtotal))
        .collect()
}

/// Where an order is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingAddress {
    pub name: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub postal_code: String,
    pub country: Country,
}

/// An address as a request carries it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressInput<'a> {
    pub name: &'a str,
    pub line1: &'a str,
    pub line2: &'a str,
    pub city: &'a str,
    pub postal_code: &'a str,
    pub country: &'a str,
}

impl ShippingAddress {
    /// Validates every field, reporting problems as `<prefix>.<field>`.
    pub fn parse(
        input: &AddressInput<'_>,
        prefix: &str,
        violations: &mut Violations,
    ) -> Option<Self> {
        let mut field = |name: &str, value: &str, required: bool, max: usize| -> String {
            // The bound is on what was sent, as the API document states it.
            let too_long = value.chars().count() > max;
            let value = value.trim();
            let key = format!("{prefix}.{name}");
            if value.is_empty() && required {
                violations.add(key, "is required");
            } else if too_long {
                violations.add(key, format!("must be at most {max} characters"));
            } else if violations.text(&key, value) {
                return value.to_owned();
            }
            String::new()
        };
        let name = field("name", input.name, true, MAX_ADDRESS_FIELD);
        let line1 = field("line1", input.line1, true, MAX_ADDRESS_FIELD);
        let line2 = field("line2", input.line2, false, MAX_ADDRESS_FIELD);
        let city = field("city", input.city, true, MAX_ADDRESS_FIELD);
        let postal_code = field("postal_code", input.postal_code, true, MAX_POSTAL_CODE);
        let country = violations.check(&format!("{prefix}.country"), Country::parse(input.country));
        Some(Self {
            name,
            line1,
            line2,
            city,
            postal_code,
            country: country?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, "EUR").unwrap()
    }

    fn country(code: &str) -> Country {
        Country::parse(code).unwrap()
    }

    #[test]
    fn countries_are_iso_codes_in_capitals() {
        for fine in ["IE", "DE", "US", "JP", "AX"] {
            assert!(Country::parse(fine).is_ok(), "{fine}");
        }
        for refused in ["", "ie", "IRL", "ZZ", "XK", "I", "É"] {
            assert!(Country::parse(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn zones_price_the_methods_and_standard_is_free_above_the_threshold() {
        let standard = |code: &str, subtotal: i64| {
            quote(&country(code), ShippingMethod::Standard, &eur(subtotal))
                .unwrap()
                .price
                .amount_minor
        };
        assert_eq!(standard("IE", 4_999), 495);
        assert_eq!(standard("IE", 5_000), 0);
        assert_eq!(standard("DE", 5_000), 995);
        assert_eq!(standard("DE", 10_000), 0);
        assert_eq!(standard("US", 1_000_000), 1_995);
        let express = options(&country("IE"), &eur(100_000)).unwrap();
        assert_eq!(express[1].method, ShippingMethod::Express);
        assert_eq!(express[1].price, eur(995), "express is never free");
        assert_eq!(
            ShippingMethod::parse("express"),
            Some(ShippingMethod::Express)
        );
        assert_eq!(ShippingMethod::parse("Express"), None);
    }

    #[test]
    fn an_address_names_each_field_that_is_wrong() {
        let mut violations = Violations::new();
        let long = "x".repeat(101);
        let input = AddressInput {
            name: " ",
            line1: &long,
            line2: "",
            city: "Dublin\u{0}",
            postal_code: "D02 X285",
            country: "ie",
        };
        assert!(ShippingAddress::parse(&input, "shipping_address", &mut violations).is_none());
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "shipping_address.name",
                "shipping_address.line1",
                "shipping_address.city",
                "shipping_address.country"
            ]
        );
        let mut fine = Violations::new();
        let input = AddressInput {
            name: "Ann Reader",
            line1: "1 Crab Lane",
            line2: "",
            city: "Dublin",
            postal_code: "D02 X285",
            country: "IE",
        };
        let address = ShippingAddress::parse(&input, "shipping_address", &mut fine).unwrap();
        assert!(fine.is_empty());
        assert_eq!(address.country.as_str(), "IE");
    }
}
