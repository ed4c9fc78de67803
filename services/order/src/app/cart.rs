//! The cart: read it priced as the catalog is now, set a line, clear it, merge a guest's cart
//! into it. Always the caller's own (the adapter passes the caller's id): a cart has no id to
//! guess.

use std::sync::Arc;

use shop_platform::flags::Flags;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::OrderError;
use super::ports::{CartStore, CartWrite, CatalogPort, StepError};
use shop_kernel::Money;

use crate::domain::{
    Cart, CartItem, CatalogProduct, Country, MAX_CART_LINES, SHOP_CURRENCY, ShippingMethod,
    ShippingOption, StoredCartLine, options,
};

/// The runtime flag that offers express shipping (on unless the flag file says otherwise).
pub const EXPRESS_SHIPPING_FLAG: &str = "express-shipping";

/// The cart use cases.
#[derive(Clone)]
pub struct Carts {
    store: Arc<dyn CartStore>,
    catalog: Arc<dyn CatalogPort>,
    flags: Flags,
}

impl std::fmt::Debug for Carts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carts").finish_non_exhaustive()
    }
}

impl From<StepError> for OrderError {
    fn from(err: StepError) -> Self {
        Self::Unavailable(format!("the catalog did not answer: {err}"))
    }
}

impl Carts {
    pub fn new(store: Arc<dyn CartStore>, catalog: Arc<dyn CatalogPort>) -> Self {
        Self {
            store,
            catalog,
            flags: Flags::default(),
        }
    }

    /// The same, with shipping methods switched on and off by `flags`.
    #[must_use]
    pub fn with_flags(self, flags: Flags) -> Self {
        Self { flags, ..self }
    }

    /// Whether `method` is offered now (express can be switched off by a flag).
    pub async fn offers(&self, method: ShippingMethod) -> bool {
        method != ShippingMethod::Express || self.flags.bool(EXPRESS_SHIPPING_FLAG, true).await
    }

    /// The caller's cart at today's prices and stock.
    pub async fn get(&self, user: Uuid) -> Result<Cart, OrderError> {
        let stored = self.store.lines(user).await?;
        if stored.is_empty() {
            return Ok(Cart::default());
        }
        let ids: Vec<Uuid> = stored.iter().map(|l| l.product_id).collect();
        let products = self.catalog.products(&ids).await?;
        Cart::price(&stored, &products).map_err(|err| OrderError::Unexpected(err.into()))
    }

    /// Sets how many of a product the cart holds (0 removes it). Only products on sale may
    /// be added; the line remembers the price the customer sees now.
    pub async fn set_item(&self, user: Uuid, item: CartItem) -> Result<Cart, OrderError> {
        if item.quantity == 0 {
            self.store.remove(user, item.product_id).await?;
            return self.get(user).await;
        }
        let product = self.on_sale(item.product_id).await?;
        let line = StoredCartLine {
            product_id: item.product_id,
            quantity: item.quantity,
            seen_price: product.unit_price,
        };
        match self.store.set(user, line, MAX_CART_LINES).await? {
            CartWrite::Stored => self.get(user).await,
            CartWrite::Full => Err(Violations::single(
                "product_id",
                format!("the cart holds at most {MAX_CART_LINES} products; remove one first"),
            )
            .into()),
        }
    }

    /// Lines as a cart would show them now (unknown products inactive), for checkout's quote.
    pub async fn price_lines(&self, lines: &[(Uuid, i64)]) -> Result<Cart, OrderError> {
        let ids: Vec<Uuid> = lines.iter().map(|(id, _)| *id).collect();
        let products = self.catalog.products(&ids).await?;
        let stored: Vec<StoredCartLine> = lines
            .iter()
            .map(|&(product_id, quantity)| {
                Ok(StoredCartLine {
                    product_id,
                    quantity,
                    seen_price: products
                        .iter()
                        .find(|p| p.id == product_id)
                        .map_or_else(|| Money::zero(SHOP_CURRENCY), |p| Ok(p.unit_price.clone()))
                        .map_err(|err| OrderError::Unexpected(err.into()))?,
                })
            })
            .collect::<Result<_, OrderError>>()?;
        Cart::price(&stored, &products).map_err(|err| OrderError::Unexpected(err.into()))
    }

    /// Each shipping method to `country`, quoted for the caller's cart as it is now, and the
    /// subtotal the quote is for.
    pub async fn shipping_options(
        &self,
        user: Uuid,
        country: &str,
    ) -> Result<(Money, Vec<ShippingOption>), OrderError> {
        let country = Country::parse(country).map_err(|err| Violations::single("country", err))?;
        let subtotal = match self.get(user).await?.subtotal {
            Some(subtotal) => subtotal,
            None => Money::zero(SHOP_CURRENCY).map_err(|err| OrderError::Unexpected(err.into()))?,
        };
        let mut offered = Vec::new();
        for option in
            options(&country, &subtotal).map_err(|err| OrderError::Unexpected(err.into()))?
        {
            if self.offers(option.method).await {
                offered.push(option);
            }
        }
        Ok((subtotal, offered))
    }

    pub async fn clear(&self, user: Uuid) -> Result<Cart, OrderError> {
        self.store.clear(user).await?;
        Ok(Cart::default())
    }

    /// Adds what a guest put in the browser's cart to the account's, on signing in: units of
    /// a product already there are added up (to the cart's bound); products no longer sold
    /// are left out rather than failing the sign-in.
    pub async fn merge(&self, user: Uuid, guest: Vec<CartItem>) -> Result<Cart, OrderError> {
        if !guest.is_empty() {
            let ids: Vec<Uuid> = guest.iter().map(|l| l.product_id).collect();
            let products = self.catalog.products(&ids).await?;
            let lines = guest
                .iter()
                .filter_map(|item| {
                    let product = products
                        .iter()
                        .find(|p| p.id == item.product_id && p.active)?;
                    Some(StoredCartLine {
                        product_id: item.product_id,
                        quantity: item.quantity,
                        seen_price: product.unit_price.clone(),
                    })
                })
                .collect();
            self.store.merge(user, lines, MAX_CART_LINES).await?;
        }
        self.get(user).await
    }

    /// The product, when it may be put in a cart; a 422 naming `product_id` otherwise.
    async fn on_sale(&self, id: Uuid) -> Result<CatalogProduct, OrderError> {
        let product = self.catalog.products(&[id]).await?.into_iter().next();
        match product {
            Some(p) if p.active => Ok(p),
            Some(_) => Err(Violations::single("product_id", "is no longer sold").into()),
            None => Err(Violations::single("product_id", "is not a product in the catalog").into()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use mockall::predicate::eq;

    use super::*;
    use crate::app::ports::{MockCartStore, MockCatalogPort};

    fn product(id: Uuid, active: bool) -> CatalogProduct {
        CatalogProduct {
            id,
            name: "Ferris Plush".to_owned(),
            unit_price: Money::new(1999, "EUR").unwrap(),
            available: 3,
            active,
        }
    }

    #[tokio::test]
    async fn a_product_that_is_not_sold_never_reaches_the_store() {
        let (user, inactive, unknown) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mut catalog = MockCatalogPort::new();
        catalog.expect_products().returning(move |ids| {
            Ok(ids
                .iter()
                .filter(|id| **id == inactive)
                .map(|id| product(*id, false))
                .collect())
        });
        let mut store = MockCartStore::new();
        store.expect_set().never();
        let carts = Carts::new(Arc::new(store), Arc::new(catalog));
        for (id, message) in [
            (inactive, "is no longer sold"),
            (unknown, "is not a product in the catalog"),
        ] {
            let item = CartItem {
                product_id: id,
                quantity: 1,
            };
            match carts.set_item(user, item).await {
                Err(OrderError::Invalid(v)) => {
                    let v: Vec<_> = v
                        .iter()
                        .map(|v| (v.field.clone(), v.message.clone()))
                        .collect();
                    assert_eq!(v, [("product_id".to_owned(), message.to_owned())]);
                }
                other => panic!("expected a 422 for {message}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_full_cart_refuses_a_new_line_by_naming_the_field() {
        let (user, id) = (Uuid::now_v7(), Uuid::now_v7());
        let mut catalog = MockCatalogPort::new();
        catalog
            .expect_products()
            .returning(|ids| Ok(vec![product(ids[0], true)]));
        let mut store = MockCartStore::new();
        store
            .expect_set()
            .with(eq(user), mockall::predicate::always(), eq(MAX_CART_LINES))
            .returning(|_, _, _| Ok(CartWrite::Full));
        let carts = Carts::new(Arc::new(store), Arc::new(catalog));
        let err = carts
            .set_item(
                user,
                CartItem {
                    product_id: id,
                    quantity: 2,
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, OrderError::Invalid(v) if v.iter().any(|v| v.field == "product_id")));
    }
}
