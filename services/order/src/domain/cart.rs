//! The customer's cart: what they mean to buy, kept by the ordering context between visits.
//!
//! A cart line remembers the unit price the customer last saw; the cart is shown at the
//! catalog's current prices, and a line whose price moved since is flagged. Setting a line's
//! quantity (even to the same number) is seeing its current price.

use shop_kernel::{Money, Violations};
use uuid::Uuid;

/// The most distinct products in one cart, and units of one product in it.
pub const MAX_CART_LINES: usize = 50;
pub const MAX_CART_QUANTITY: i64 = 99;

/// One line as the cart stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCartLine {
    pub product_id: Uuid,
    pub quantity: i64,
    /// The unit price the customer last saw for this line.
    pub seen_price: Money,
}

/// A product as the cart shows it: the catalog's current facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogProduct {
    pub id: Uuid,
    pub name: String,
    pub unit_price: Money,
    pub available: i64,
    pub active: bool,
}

/// One line as the customer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartLine {
    pub product_id: Uuid,
    pub quantity: i64,
    /// Empty when the product is gone from the catalog.
    pub name: String,
    /// The current price; the price last seen when the product is gone.
    pub unit_price: Money,
    pub line_total: Money,
    pub available: i64,
    /// False when the product was deactivated (or is gone): the line cannot be checked out.
    pub active: bool,
    pub price_changed: bool,
    pub seen_price: Money,
}

/// The cart as the customer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cart {
    pub lines: Vec<CartLine>,
    /// The sum of the active lines; `None` for an empty cart (no currency to name).
    pub subtotal: Option<Money>,
}

impl Cart {
    /// The stored lines priced with what the catalog says now (`products`, any order).
    pub fn price(
        stored: &[StoredCartLine],
        products: &[CatalogProduct],
    ) -> Result<Self, shop_kernel::MoneyError> {
        let mut lines = Vec::with_capacity(stored.len());
        let mut subtotal: Option<Money> = None;
        for line in stored {
            let product = products.iter().find(|p| p.id == line.product_id);
            let unit_price = product.map_or(&line.seen_price, |p| &p.unit_price).clone();
            let active = product.is_some_and(|p| p.active);
            let line_total = unit_price.times(line.quantity)?;
            if active {
                subtotal = Some(match subtotal {
                    None => line_total.clone(),
                    Some(sum) => sum.plus(&line_total)?,
                });
            }
            lines.push(CartLine {
                product_id: line.product_id,
                quantity: line.quantity,
                name: product.map(|p| p.name.clone()).unwrap_or_default(),
                price_changed: unit_price != line.seen_price,
                unit_price,
                line_total,
                available: product.map_or(0, |p| p.available),
                active,
                seen_price: line.seen_price.clone(),
            });
        }
        Ok(Self { lines, subtotal })
    }
}

/// A validated "set this product's quantity" (0 removes the line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CartItem {
    pub product_id: Uuid,
    pub quantity: i64,
}

impl CartItem {
    pub fn parse(product_id: &str, quantity: i64) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let product_id = parse_product(&mut violations, "product_id", product_id);
        if !(0..=MAX_CART_QUANTITY).contains(&quantity) {
            violations.add(
                "quantity",
                format!("must be between 0 and {MAX_CART_QUANTITY} (0 removes the line)"),
            );
        }
        violations.into_result()?;
        Ok(Self {
            product_id: product_id.unwrap_or_default(),
            quantity,
        })
    }

    /// A guest's cart, to be merged into the account's: at most [`MAX_CART_LINES`] lines of
    /// 1 to [`MAX_CART_QUANTITY`] units, each product once.
    pub fn parse_guest_cart(lines: &[(String, i64)]) -> Result<Vec<Self>, Violations> {
        let mut violations = Violations::new();
        if lines.len() > MAX_CART_LINES {
            violations.add(
                "items",
                format!("a cart holds at most {MAX_CART_LINES} products"),
            );
        }
        let mut parsed: Vec<Self> = Vec::with_capacity(lines.len());
        for (i, (product_id, quantity)) in lines.iter().enumerate() {
            let product_id = parse_product(
                &mut violations,
                &format!("items[{i}].product_id"),
                product_id,
            );
            if !(1..=MAX_CART_QUANTITY).contains(quantity) {
                violations.add(
                    format!("items[{i}].quantity"),
                    format!("must be between 1 and {MAX_CART_QUANTITY}"),
                );
            }
            if let Some(product_id) = product_id {
                if parsed.iter().any(|p| p.product_id == product_id) {
                    violations.add(format!("items[{i}].product_id"), "appears more than once");
                }
                parsed.push(Self {
                    product_id,
                    quantity: *quantity,
                });
            }
        }
        violations.into_result()?;
        Ok(parsed)
    }
}

fn parse_product(violations: &mut Violations, field: &str, raw: &str) -> Option<Uuid> {
    violations.check(field, Uuid::parse_str(raw).map_err(|_| "must be a UUID"))
}

/// The quantity a line has after a guest's `adding` units are merged into `had`.
pub fn merged_quantity(had: i64, adding: i64) -> i64 {
    had.saturating_add(adding).min(MAX_CART_QUANTITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(minor: i64) -> Money {
        Money::new(minor, "EUR").unwrap()
    }

    fn product(id: Uuid, price: i64, active: bool) -> CatalogProduct {
        CatalogProduct {
            id,
            name: format!("product {price}"),
            unit_price: eur(price),
            available: 7,
            active,
        }
    }

    #[test]
    fn a_cart_is_priced_now_flags_moved_prices_and_sums_only_what_can_be_bought() {
        let (a, b, gone) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let stored = [
            StoredCartLine {
                product_id: a,
                quantity: 2,
                seen_price: eur(1000),
            },
            StoredCartLine {
                product_id: b,
                quantity: 1,
                seen_price: eur(500),
            },
            StoredCartLine {
                product_id: gone,
                quantity: 3,
                seen_price: eur(100),
            },
        ];
        let cart = Cart::price(&stored, &[product(b, 500, false), product(a, 1200, true)]).unwrap();
        let [first, second, third] = &cart.lines[..] else {
            panic!("three lines expected: {cart:?}");
        };
        assert!(first.price_changed && first.active);
        assert_eq!(first.line_total, eur(2400));
        assert!(!second.price_changed && !second.active);
        assert!(!third.active && third.name.is_empty() && third.available == 0);
        assert_eq!(cart.subtotal, Some(eur(2400)));
        assert_eq!(Cart::price(&[], &[]).unwrap(), Cart::default());
    }

    #[test]
    fn cart_items_are_bounded_and_named_by_field() {
        let id = Uuid::now_v7().to_string();
        assert_eq!(CartItem::parse(&id, 0).unwrap().quantity, 0);
        let bad = CartItem::parse("nope", 100).unwrap_err();
        let fields: Vec<_> = bad.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["product_id", "quantity"]);

        let twice = CartItem::parse_guest_cart(&[(id.clone(), 1), (id, 0)]).unwrap_err();
        let fields: Vec<_> = twice.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["items[1].quantity", "items[1].product_id"]);
        assert_eq!(merged_quantity(90, 20), MAX_CART_QUANTITY);
    }
}
