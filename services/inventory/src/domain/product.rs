//! Products: what the catalog sells, and the validated shapes of creating and changing one.

use chrono::{DateTime, Utc};
use shop_kernel::Money;
use shop_kernel::Violations;
use uuid::Uuid;

use super::Stock;

/// A catalog entry with its stock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub image_url: String,
    pub active: bool,
    pub stock: Stock,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A product to create, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub price: Money,
    pub image_url: String,
    pub initial_stock: i64,
}

/// Changes to a product; `None` leaves a field as it is. Validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    pub image_url: Option<String>,
    pub active: Option<bool>,
}

const MAX_NAME: usize = 200;
const MAX_DESCRIPTION: usize = 5_000;
const MAX_URL: usize = 2_048;
/// The shop's one currency. Prices in another currency are refused, because an order's lines
/// must add up to one total.
pub const SHOP_CURRENCY: &str = "EUR";
/// The highest price a product may have: 100,000.00 in the shop's currency.
pub const MAX_PRICE_MINOR: i64 = 10_000_000;
/// The highest total one order may reach: 1,000,000.00. With at most 50 lines of at most 99
/// each at [`MAX_PRICE_MINOR`] an order could reach 495,000,000.00, so the bound is checked
/// when the order is reserved and priced.
pub const MAX_ORDER_TOTAL_MINOR: i64 = 100_000_000;

fn check_name(violations: &mut Violations, field: &str, name: &str) -> Option<String> {
    // The bound is on what was sent, as the API document states it, not on what is kept.
    let too_long = name.chars().count() > MAX_NAME;
    let name = name.trim();
    if !violations.text(field, name) {
        None
    } else if name.is_empty() {
        violations.add(field, "must not be empty");
        None
    } else if too_long {
        violations.add(field, format!("must be at most {MAX_NAME} characters"));
        None
    } else {
        Some(name.to_owned())
    }
}

fn check_description(
    violations: &mut Violations,
    field: &str,
    description: &str,
) -> Option<String> {
    if !violations.text(field, description) {
        None
    } else if description.chars().count() > MAX_DESCRIPTION {
        violations.add(
            field,
            format!("must be at most {MAX_DESCRIPTION} characters"),
        );
        None
    } else {
        Some(description.trim().to_owned())
    }
}

fn check_price(
    violations: &mut Violations,
    field: &str,
    amount_minor: i64,
    currency: &str,
) -> Option<Money> {
    if currency != SHOP_CURRENCY {
        violations.add(
            format!("{field}.currency"),
            format!("must be {SHOP_CURRENCY}"),
        );
        return None;
    }
    if amount_minor <= 0 {
        violations.add(format!("{field}.amount_minor"), "must be positive");
        return None;
    }
    if amount_minor > MAX_PRICE_MINOR {
        violations.add(
            format!("{field}.amount_minor"),
            format!("must be at most {MAX_PRICE_MINOR} (100000.00 {SHOP_CURRENCY})"),
        );
        return None;
    }
    violations.check(field, Money::new(amount_minor, currency))
}

/// A product image is a file this shop serves: empty, or a path on the site such as
/// `/static/products/mug.svg` (the storefront's CSP loads images from its own origin only).
fn check_image_url(violations: &mut Violations, field: &str, url: &str) -> Option<String> {
    let on_this_site = url.starts_with('/')
        && !url.starts_with("//")
        && url
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~%/-".contains(&b));
    if url.chars().count() > MAX_URL {
        violations.add(field, format!("must be at most {MAX_URL} characters"));
        None
    } else if !url.is_empty() && !on_this_site {
        violations.add(
            field,
            "must be a path on this site, such as /static/products/mug.svg",
        );
        None
    } else {
        Some(url.to_owned())
    }
}

impl NewProduct {
    pub fn parse(
        name: &str,
        description: &str,
        price: Option<(i64, &str)>,
        image_url: &str,
        initial_stock: i64,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let name = check_name(&mut violations, "name", name);
        let description = check_description(&mut violations, "description", description);
        let price = match price {
            Some((amount, currency)) => check_price(&mut violations, "price", amount, currency),
            None => {
                violations.add("price", "is required");
                None
            }
        };
        let image_url = check_image_url(&mut violations, "image_url", image_url);
        if !(0..=1_000_000).contains(&initial_stock) {
            violations.add("initial_stock", "must be between 0 and 1000000");
        }
        match (name, description, price, image_url) {
            (Some(name), Some(description), Some(price), Some(image_url))
                if violations.is_empty() =>
            {
                Ok(Self {
                    name,
                    description,
                    price,
                    image_url,
                    initial_stock,
                })
            }
            _ => Err(violations),
        }
    }
}

impl ProductPatch {
    pub fn parse(
        name: Option<&str>,
        description: Option<&str>,
        price: Option<(i64, &str)>,
        image_url: Option<&str>,
        active: Option<bool>,
    ) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let patch = Self {
            name: name.and_then(|n| check_name(&mut violations, "name", n)),
            description: description
                .and_then(|d| check_description(&mut violations, "description", d)),
            price: price.and_then(|(amount, currency)| {
                check_price(&mut violations, "price", amount, currency)
            }),
            image_url: image_url.and_then(|u| check_image_url(&mut violations, "image_url", u)),
            active,
        };
        violations.into_result().map(|()| patch)
    }

    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_product_is_trimmed_and_accepted() {
        let product = NewProduct::parse(
            "  Ferris Mug ",
            "A mug.",
            Some((1299, "EUR")),
            "/static/products/mug.svg",
            5,
        )
        .unwrap();
        assert_eq!(product.name, "Ferris Mug");
        assert_eq!(product.price, Money::new(1299, "EUR").unwrap());
    }

    #[test]
    fn the_name_bound_counts_what_was_sent_not_what_is_kept() {
        let at_bound = format!(" {}", "n".repeat(MAX_NAME - 1));
        assert!(NewProduct::parse(&at_bound, "", Some((1, "EUR")), "", 0).is_ok());
        let over = format!("\t{}", "n".repeat(MAX_NAME));
        let err = NewProduct::parse(&over, "", Some((1, "EUR")), "", 0).unwrap_err();
        assert_eq!(err.iter().next().unwrap().field, "name");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let err = NewProduct::parse(
            "",
            &"d".repeat(5001),
            Some((0, "USD")),
            "javascript:alert(1)",
            -1,
        )
        .unwrap_err();
        let fields: Vec<&str> = err.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "description",
                "price.currency",
                "image_url",
                "initial_stock"
            ]
        );
    }

    #[test]
    fn an_image_is_a_path_on_this_site_or_nothing() {
        let image = |url: &str| NewProduct::parse("Mug", "", Some((100, "EUR")), url, 0);
        for fine in ["", "/", "/static/products/mug.svg", "/img/a%20b~1.png"] {
            assert!(image(fine).is_ok(), "{fine}");
        }
        for refused in [
            "https://cdn.example.com/mug.png",
            "http://[",
            "//evil.example/x.png",
            " /static/products/mug.svg",
            "/static/a b.svg",
            "/static/\u{7f}.svg",
        ] {
            assert!(image(refused).is_err(), "{refused}");
        }
    }

    #[test]
    fn a_patch_validates_only_what_it_changes() {
        let patch = ProductPatch::parse(None, None, Some((500, "EUR")), None, Some(false)).unwrap();
        assert_eq!(patch.price.unwrap().amount_minor, 500);
        assert!(ProductPatch::parse(Some(" "), None, None, None, None).is_err());
        assert!(
            ProductPatch::parse(None, None, None, None, None)
                .unwrap()
                .is_empty()
        );
    }
}
