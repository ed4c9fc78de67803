//! Checkout from the cart with an address and a shipping method, against the real order,
//! inventory and payment services on real Postgres and RabbitMQ: the charge is the subtotal
//! plus shipping, once; the cart empties on CONFIRMED and not before; a moved price or another
//! total is refused; a price that moves after the check is released, never charged; a declined
//! card keeps the cart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A test fails loudly.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use shop_events::Money;
use shop_order::app::ports::{ChargeOutcome, InventoryPort, PaymentPort, Reserved, StepError};
use shop_order::domain::RequestedLine;
use shop_order::startup::Peers;
use shop_platform::grpc_status::{reason_of, violations_of};
use shop_proto::common::v1::Money as PbMoney;
use shop_proto::inventory::v1 as inventory_pb;
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_proto::order::v1 as pb;
use shop_proto::order::v1::order_service_client::OrderServiceClient;
use shop_test_services::authed;
use tokio::sync::Semaphore;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::support::Shop;

fn eur(amount_minor: i64) -> PbMoney {
    PbMoney {
        amount_minor,
        currency: "EUR".to_owned(),
    }
}

async fn put(orders: &mut OrderServiceClient<Channel>, token: &str, product: &str, quantity: i64) {
    orders
        .set_cart_item(authed(
            pb::SetCartItemRequest {
                product_id: product.to_owned(),
                quantity,
            },
            token,
        ))
        .await
        .unwrap();
}

async fn cart(orders: &mut OrderServiceClient<Channel>, token: &str) -> Vec<(String, i64)> {
    orders
        .get_cart(authed(pb::GetCartRequest {}, token))
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap()
        .lines
        .into_iter()
        .map(|l| (l.product_id, l.quantity))
        .collect()
}

/// PlaceOrder for the cart (no lines), to Dublin.
fn from_cart(key: &str, card: &str, method: pb::ShippingMethod) -> pb::PlaceOrderRequest {
    pb::PlaceOrderRequest {
        idempotency_key: key.to_owned(),
        lines: vec![],
        card_token: card.to_owned(),
        shipping_address: Some(Shop::address()),
        shipping_method: method.into(),
        expected_total: None,
    }
}

async fn place(
    orders: &mut OrderServiceClient<Channel>,
    token: &str,
    request: pb::PlaceOrderRequest,
) -> Result<pb::Order, tonic::Status> {
    orders
        .place_order(authed(request, token))
        .await
        .map(|r| r.into_inner().order.unwrap())
}

async fn set_price(shop: &Shop, product: &str, amount_minor: i64) {
    InventoryServiceClient::new(shop.inventory.channel().await)
        .update_product(authed(
            inventory_pb::UpdateProductRequest {
                product_id: product.to_owned(),
                price: Some(eur(amount_minor)),
                ..Default::default()
            },
            &shop.admin_token,
        ))
        .await
        .unwrap();
}

/// An order service of its own, on the shop's inventory and payment, whose peers `wrap`
/// decorates; PlaceOrder drives the saga for up to `request_budget`.
async fn order_service_with(
    shop: &mut Shop,
    wrap: impl FnOnce(Peers) -> Peers,
    request_budget: Duration,
) -> OrderServiceClient<Channel> {
    let (inventory, payment) = (shop.inventory.uri(), shop.payment.uri());
    let database = shop.shop.new_database().await;
    let order_service = shop
        .shop
        .order_on(&shop.user, database, wrap, move |s| {
            s.upstream.inventory = inventory;
            s.upstream.payment = payment;
            s.saga.request_budget = request_budget;
        })
        .await;
    OrderServiceClient::new(order_service.channel().await)
}

/// Charges wait until the test lets them through.
struct GatedCharges {
    inner: Arc<dyn PaymentPort>,
    gate: Arc<Semaphore>,
}

#[async_trait]
impl PaymentPort for GatedCharges {
    async fn charge(
        &self,
        order_id: Uuid,
        user_id: Uuid,
        amount: &Money,
        card: &str,
    ) -> Result<ChargeOutcome, StepError> {
        let _permit = self.gate.acquire().await.unwrap();
        self.inner.charge(order_id, user_id, amount, card).await
    }

    async fn refund(&self, order_id: Uuid, reason: &str) -> Result<(), StepError> {
        self.inner.refund(order_id, reason).await
    }
}

#[tokio::test]
async fn the_cart_is_ordered_with_shipping_charged_once_and_emptied_only_when_confirmed() {
    let mut shop = Shop::start().await;
    let (mug, plush) = (shop.product(10, 1299).await, shop.product(10, 2500).await);
    let gate = Arc::new(Semaphore::new(0));
    let gated = gate.clone();
    let mut orders = order_service_with(
        &mut shop,
        move |real: Peers| Peers {
            payment: Arc::new(GatedCharges {
                inner: real.payment,
                gate: gated,
            }),
            ..real
        },
        Duration::from_secs(30),
    )
    .await;
    let token = shop.customer_token.clone();
    put(&mut orders, &token, &mug, 2).await;
    put(&mut orders, &token, &plush, 1).await;

    // The quote the customer sees: 2 x 12.99 + 25.00 = 50.98, so standard is free in Ireland
    // and express is 9.95.
    let quote = orders
        .get_shipping_options(authed(
            pb::GetShippingOptionsRequest {
                country: "IE".to_owned(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(quote.subtotal, Some(eur(5098)));
    let express = quote
        .options
        .iter()
        .find(|o| o.method() == pb::ShippingMethod::Express)
        .unwrap();
    assert_eq!(express.price, Some(eur(995)));

    let mut request = from_cart("cart-1", "tok_visa", pb::ShippingMethod::Express);
    request.expected_total = Some(eur(5098 + 995));
    let placing = {
        let (mut orders, token, request) = (orders.clone(), token.clone(), request.clone());
        tokio::spawn(async move { place(&mut orders, &token, request).await })
    };
    // Reserved and waiting for the charge: the cart is still whole.
    shop.eventually(Duration::from_secs(15), "stock reserved", || async {
        shop.stock(&mug).await.1 == 2
    })
    .await;
    assert_eq!(
        cart(&mut orders, &token).await.len(),
        2,
        "emptied before it was paid"
    );

    gate.add_permits(1);
    let order = placing.await.unwrap().unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Confirmed, "{order:?}");
    assert_eq!(
        (
            order.subtotal.clone(),
            order.shipping.clone(),
            order.total.clone()
        ),
        (Some(eur(5098)), Some(eur(995)), Some(eur(6093)))
    );
    assert_eq!(order.shipping_method(), pb::ShippingMethod::Express);
    assert_eq!(order.shipping_address, Some(Shop::address()));
    assert!(
        cart(&mut orders, &token).await.is_empty(),
        "the cart was ordered"
    );
    let charged = shop
        .processor()
        .entry(Uuid::parse_str(&order.id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(charged.amount.amount_minor, 6093);

    // The same request again, after the cart was emptied: the same order, charged once.
    gate.add_permits(10);
    let again = place(&mut orders, &token, request).await.unwrap();
    assert_eq!(again.id, order.id);
    assert_eq!(shop.processor().total_captures(), 1);
    shop.stop().await;
}

#[tokio::test]
async fn a_moved_price_or_another_total_is_refused_and_a_declined_card_keeps_the_cart() {
    let shop = Shop::start().await;
    let mug = shop.product(10, 1299).await;
    let mut orders = shop.orders().await;
    let token = shop.customer_token.clone();

    let empty = place(
        &mut orders,
        &token,
        from_cart("empty", "tok_visa", pb::ShippingMethod::Standard),
    )
    .await
    .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);
    assert_eq!(violations_of(&empty)[0].0, "items");

    put(&mut orders, &token, &mug, 1).await;
    set_price(&shop, &mug, 1499).await;
    let moved = place(
        &mut orders,
        &token,
        from_cart("moved", "tok_visa", pb::ShippingMethod::Standard),
    )
    .await
    .unwrap_err();
    assert_eq!(moved.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&moved).as_deref(), Some("PRICE_CHANGED"));
    assert!(moved.message().contains("14.99"), "{moved:?}");

    // Setting the line again accepts the new price; a total the customer was not quoted is
    // still refused, and nothing is reserved or charged.
    put(&mut orders, &token, &mug, 1).await;
    let mut stale = from_cart("stale", "tok_visa", pb::ShippingMethod::Standard);
    stale.expected_total = Some(eur(1299 + 495));
    let refused = place(&mut orders, &token, stale).await.unwrap_err();
    assert_eq!(reason_of(&refused).as_deref(), Some("PRICE_CHANGED"));
    assert_eq!(shop.stock(&mug).await, (10, 0, 0, 10));
    assert_eq!(shop.processor().total_captures(), 0);

    let mut declined = from_cart("declined", "tok_declined", pb::ShippingMethod::Standard);
    declined.expected_total = Some(eur(1499 + 495));
    let order = place(&mut orders, &token, declined).await.unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Rejected);
    assert_eq!(order.reason, "payment_declined");
    assert_eq!(
        cart(&mut orders, &token).await,
        [(mug.clone(), 1)],
        "the cart is kept"
    );

    // A product taken off sale blocks the cart until it is removed.
    InventoryServiceClient::new(shop.inventory.channel().await)
        .update_product(authed(
            inventory_pb::UpdateProductRequest {
                product_id: mug.clone(),
                active: Some(false),
                ..Default::default()
            },
            &shop.admin_token,
        ))
        .await
        .unwrap();
    let blocked = place(
        &mut orders,
        &token,
        from_cart("off-sale", "tok_visa", pb::ShippingMethod::Standard),
    )
    .await
    .unwrap_err();
    assert_eq!(reason_of(&blocked).as_deref(), Some("CART_NOT_ORDERABLE"));

    let nowhere = pb::PlaceOrderRequest {
        shipping_address: Some(pb::ShippingAddress {
            country: "XX".to_owned(),
            ..Shop::address()
        }),
        ..from_cart("nowhere", "tok_visa", pb::ShippingMethod::Unspecified)
    };
    let invalid = place(&mut orders, &token, nowhere).await.unwrap_err();
    let fields: Vec<String> = violations_of(&invalid)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(fields, ["shipping_address.country", "shipping_method"]);
    shop.stop().await;
}

/// Inventory whose price for `product` moves to `to` just before it reserves: the moment
/// between checkout's check and the reservation.
struct PriceMovesFirst {
    inner: Arc<dyn InventoryPort>,
    admin: InventoryServiceClient<Channel>,
    admin_token: String,
    product: String,
    to: i64,
}

#[async_trait]
impl InventoryPort for PriceMovesFirst {
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: &[RequestedLine],
    ) -> Result<Reserved, StepError> {
        self.admin
            .clone()
            .update_product(authed(
                inventory_pb::UpdateProductRequest {
                    product_id: self.product.clone(),
                    price: Some(eur(self.to)),
                    ..Default::default()
                },
                &self.admin_token,
            ))
            .await
            .unwrap();
        self.inner.reserve(order_id, lines).await
    }

    async fn release(&self, order_id: Uuid) -> Result<(), StepError> {
        self.inner.release(order_id).await
    }
}

#[tokio::test]
async fn a_price_that_moves_after_the_check_is_never_charged() {
    let mut shop = Shop::start().await;
    let mug = shop.product(10, 1299).await;
    let admin = InventoryServiceClient::new(shop.inventory.channel().await);
    let admin_token = shop.admin_token.clone();
    let moved = mug.clone();
    let mut orders = order_service_with(
        &mut shop,
        move |real: Peers| Peers {
            inventory: Arc::new(PriceMovesFirst {
                inner: real.inventory,
                admin,
                admin_token,
                product: moved,
                to: 1349,
            }),
            ..real
        },
        Duration::from_secs(3),
    )
    .await;
    let token = shop.customer_token.clone();
    put(&mut orders, &token, &mug, 2).await;

    // Checked and quoted at 2 x 12.99 + 4.95; reserved at 2 x 13.49: released, not charged.
    let mut request = from_cart("window", "tok_visa", pb::ShippingMethod::Standard);
    request.expected_total = Some(eur(2 * 1299 + 495));
    let order = place(&mut orders, &token, request).await.unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Rejected, "{order:?}");
    assert_eq!(order.reason, "price_changed");
    let compensating = order
        .timeline
        .iter()
        .find(|e| e.event == "compensating")
        .expect("a compensating step in the timeline");
    assert!(
        compensating.detail.contains("26.98 EUR") && compensating.detail.contains("25.98 EUR"),
        "{compensating:?}"
    );
    assert_eq!(shop.processor().total_captures(), 0, "nothing charged");
    assert_eq!(shop.stock(&mug).await, (10, 0, 0, 10), "the stock is back");
    // The cart is kept, and says which price moved.
    let lines = orders
        .get_cart(authed(pb::GetCartRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap()
        .lines;
    assert_eq!(lines.len(), 1);
    assert!(lines[0].price_changed, "{lines:?}");
    shop.stop().await;
}

async fn methods_quoted(orders: &mut OrderServiceClient<Channel>, token: &str) -> Vec<i32> {
    let request = pb::GetShippingOptionsRequest {
        country: "IE".to_owned(),
    };
    orders
        .get_shipping_options(authed(request, token))
        .await
        .unwrap()
        .into_inner()
        .options
        .iter()
        .map(|o| o.method)
        .collect()
}

#[tokio::test]
async fn express_shipping_switched_off_by_its_flag_is_neither_quoted_nor_accepted() {
    let flags = shop_testkit::FlagFile::new();
    flags.set(&[("express-shipping", "off")]).unwrap();
    let file = flags.setting();
    let shop = Shop::start_with(|settings| {
        settings.flags.file = file;
        settings.flags.reload_interval = Duration::from_millis(100);
    })
    .await;
    let mug = shop.product(10, 1299).await;
    let mut orders = shop.orders().await;
    let token = shop.customer_token.clone();
    put(&mut orders, &token, &mug, 1).await;

    let standard = pb::ShippingMethod::Standard as i32;
    let express = pb::ShippingMethod::Express as i32;
    assert_eq!(methods_quoted(&mut orders, &token).await, vec![standard]);
    let refused = place(
        &mut orders,
        &token,
        from_cart("express-off", "tok_visa", pb::ShippingMethod::Express),
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(violations_of(&refused)[0].0, "shipping_method");
    assert_eq!(cart(&mut orders, &token).await.len(), 1, "the cart is kept");

    // Switched on in the file: offered again without a restart.
    flags.set(&[("express-shipping", "on")]).unwrap();
    shop.eventually(Duration::from_secs(5), "express offered again", || {
        let (mut orders, token) = (orders.clone(), token.clone());
        async move { methods_quoted(&mut orders, &token).await == vec![standard, express] }
    })
    .await;
    let placed = place(
        &mut orders,
        &token,
        from_cart("express-on", "tok_visa", pb::ShippingMethod::Express),
    )
    .await
    .unwrap();
    assert_eq!(placed.shipping_method, express);
    shop.stop().await;
}
