//! The cart against the real order and inventory services on real Postgres: a round trip,
//! a restart and a second session, a price change flagged, the bounds, and a guest's cart
//! merged in.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A test fails loudly at the first surprise.

use shop_proto::common::v1::Money;
use shop_proto::inventory::v1 as inventory_pb;
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_proto::order::v1 as pb;
use shop_proto::order::v1::order_service_client::OrderServiceClient;
use shop_test_services::{PASSWORD, authed, login};
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::support::Shop;

async fn get(orders: &mut OrderServiceClient<Channel>, token: &str) -> pb::Cart {
    orders
        .get_cart(authed(pb::GetCartRequest {}, token))
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap()
}

async fn set(
    orders: &mut OrderServiceClient<Channel>,
    token: &str,
    product: &str,
    quantity: i64,
) -> Result<pb::Cart, tonic::Status> {
    orders
        .set_cart_item(authed(
            pb::SetCartItemRequest {
                product_id: product.to_owned(),
                quantity,
            },
            token,
        ))
        .await
        .map(|r| r.into_inner().cart.unwrap())
}

fn minor(money: Option<&Money>) -> i64 {
    money.unwrap().amount_minor
}

/// The product ids and quantities of a cart, in its order.
fn lines(cart: &pb::Cart) -> Vec<(String, i64)> {
    cart.lines
        .iter()
        .map(|l| (l.product_id.clone(), l.quantity))
        .collect()
}

/// The fields an INVALID_ARGUMENT names.
fn fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    shop_platform::grpc_status::violations_of(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

async fn update_product(shop: &Shop, product: &str, update: inventory_pb::UpdateProductRequest) {
    InventoryServiceClient::new(shop.inventory.channel().await)
        .update_product(authed(
            inventory_pb::UpdateProductRequest {
                product_id: product.to_owned(),
                ..update
            },
            &shop.admin_token,
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_cart_round_trip_prices_lines_now_and_empties() {
    let shop = Shop::start().await;
    let (mug, plush) = (shop.product(5, 1299).await, shop.product(2, 2500).await);
    let mut orders = shop.orders().await;
    let token = &shop.customer_token;

    let empty = get(&mut orders, token).await;
    assert!(empty.lines.is_empty() && empty.subtotal.is_none());

    set(&mut orders, token, &mug, 2).await.unwrap();
    let cart = set(&mut orders, token, &plush, 3).await.unwrap();
    assert_eq!(lines(&cart), [(mug.clone(), 2), (plush.clone(), 3)]);
    let line = &cart.lines[0];
    assert!(line.name.starts_with("Product ") && line.active && !line.price_changed);
    assert_eq!(
        (
            minor(line.unit_price.as_ref()),
            minor(line.line_total.as_ref()),
            line.available
        ),
        (1299, 2598, 5)
    );
    // Three plushes wanted, two in stock: the cart says so, and holds no stock.
    assert_eq!(cart.lines[1].available, 2);
    assert_eq!(minor(cart.subtotal.as_ref()), 2598 + 7500);
    assert_eq!(shop.stock(&plush).await, (2, 0, 0, 2));

    // Setting a quantity replaces it; 0 removes the line.
    let cart = set(&mut orders, token, &mug, 1).await.unwrap();
    assert_eq!(lines(&cart), [(mug.clone(), 1), (plush.clone(), 3)]);
    let cart = set(&mut orders, token, &plush, 0).await.unwrap();
    assert_eq!(lines(&cart), [(mug, 1)]);
    assert_eq!(get(&mut orders, token).await, cart);

    let cleared = orders
        .clear_cart(authed(pb::ClearCartRequest {}, token))
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert!(cleared.lines.is_empty());
    assert!(get(&mut orders, token).await.lines.is_empty());

    // Another customer's cart is theirs alone.
    let (_, other) = shop_test_services::customer(&shop.user, "bob@example.com").await;
    set(&mut orders, &other, &plush, 1).await.unwrap();
    assert!(get(&mut orders, token).await.lines.is_empty());
    shop.stop().await;
}

#[tokio::test]
async fn the_cart_survives_a_restart_and_is_the_same_from_a_second_session() {
    let mut shop = Shop::start().await;
    let mug = shop.product(5, 1299).await;
    let database = shop.shop.new_database().await;
    let peers = |shop: &Shop| {
        let (inventory, payment) = (shop.inventory.uri(), shop.payment.uri());
        move |s: &mut shop_order::Settings| {
            s.upstream.inventory = inventory;
            s.upstream.payment = payment;
        }
    };
    let first = shop
        .shop
        .order_on(
            &shop.user,
            database.clone(),
            std::convert::identity,
            peers(&shop),
        )
        .await;
    let mut orders = OrderServiceClient::new(first.channel().await);
    set(&mut orders, &shop.customer_token, &mug, 4)
        .await
        .unwrap();
    shop.shop.stop_service(first.addr).await;

    let second = shop
        .shop
        .order_on(&shop.user, database, std::convert::identity, peers(&shop))
        .await;
    let other_session = login(&shop.user, "ann@example.com", PASSWORD).await;
    assert_ne!(other_session, shop.customer_token);
    let mut orders = OrderServiceClient::new(second.channel().await);
    let cart = get(&mut orders, &other_session).await;
    assert_eq!(lines(&cart), [(mug, 4)]);
    assert_eq!(get(&mut orders, &shop.customer_token).await, cart);
    shop.stop().await;
}

#[tokio::test]
async fn a_moved_price_is_flagged_until_the_line_is_set_again() {
    let shop = Shop::start().await;
    let mug = shop.product(5, 1299).await;
    let mut orders = shop.orders().await;
    let token = &shop.customer_token;
    set(&mut orders, token, &mug, 2).await.unwrap();

    let raise = inventory_pb::UpdateProductRequest {
        price: Some(Money {
            amount_minor: 1499,
            currency: "EUR".to_owned(),
        }),
        ..Default::default()
    };
    update_product(&shop, &mug, raise).await;
    let cart = get(&mut orders, token).await;
    let line = &cart.lines[0];
    assert!(line.price_changed);
    assert_eq!(
        (
            minor(line.seen_price.as_ref()),
            minor(line.unit_price.as_ref())
        ),
        (1299, 1499)
    );
    assert_eq!(
        minor(cart.subtotal.as_ref()),
        2998,
        "the cart shows today's price"
    );

    let seen = set(&mut orders, token, &mug, 2).await.unwrap();
    assert!(!seen.lines[0].price_changed);
    assert_eq!(minor(seen.lines[0].seen_price.as_ref()), 1499);

    // A product taken off sale stays in the cart, flagged and out of the subtotal.
    let off_sale = inventory_pb::UpdateProductRequest {
        active: Some(false),
        ..Default::default()
    };
    update_product(&shop, &mug, off_sale).await;
    let cart = get(&mut orders, token).await;
    assert!(!cart.lines[0].active);
    assert!(cart.subtotal.is_none());
    shop.stop().await;
}

#[tokio::test]
async fn only_products_on_sale_go_in_and_the_cart_is_bounded() {
    let shop = Shop::start().await;
    let mut orders = shop.orders().await;
    let token = &shop.customer_token;
    let retired = shop.product(5, 100).await;
    let off_sale = inventory_pb::UpdateProductRequest {
        active: Some(false),
        ..Default::default()
    };
    update_product(&shop, &retired, off_sale).await;

    let unknown = Uuid::now_v7().to_string();
    for product in [retired.as_str(), unknown.as_str(), "not-a-uuid"] {
        let refused = set(&mut orders, token, product, 1).await.unwrap_err();
        assert_eq!(fields(&refused), ["product_id"], "{product}");
    }
    let mug = shop.product(5, 1299).await;
    for quantity in [-1, 100] {
        let refused = set(&mut orders, token, &mug, quantity).await.unwrap_err();
        assert_eq!(fields(&refused), ["quantity"]);
    }

    for _ in 0..50 {
        let product = shop.product(1, 100).await;
        set(&mut orders, token, &product, 1).await.unwrap();
    }
    let refused = set(&mut orders, token, &mug, 1).await.unwrap_err();
    assert_eq!(fields(&refused), ["product_id"]);
    assert!(refused.message().contains("at most 50"), "{refused:?}");
    let cart = get(&mut orders, token).await;
    assert_eq!(cart.lines.len(), 50);
    // A line already there may still change.
    let first = cart.lines[0].product_id.clone();
    set(&mut orders, token, &first, 3).await.unwrap();
    shop.stop().await;
}

#[tokio::test]
async fn a_guest_cart_merges_in_adding_up_and_leaving_out_what_is_not_sold() {
    let shop = Shop::start().await;
    let mut orders = shop.orders().await;
    let token = &shop.customer_token;
    let (mug, plush, retired) = (
        shop.product(5, 1299).await,
        shop.product(5, 2500).await,
        shop.product(5, 100).await,
    );
    set(&mut orders, token, &mug, 90).await.unwrap();
    let off_sale = inventory_pb::UpdateProductRequest {
        active: Some(false),
        ..Default::default()
    };
    update_product(&shop, &retired, off_sale).await;

    let guest = |lines: &[(&str, i64)]| pb::MergeCartRequest {
        lines: lines
            .iter()
            .map(|(id, quantity)| pb::PlaceOrderLine {
                product_id: (*id).to_owned(),
                quantity: *quantity,
            })
            .collect(),
    };
    let merged = orders
        .merge_cart(authed(
            guest(&[(&mug, 20), (&plush, 2), (&retired, 1)]),
            token,
        ))
        .await
        .unwrap()
        .into_inner()
        .cart
        .unwrap();
    assert_eq!(lines(&merged), [(mug.clone(), 99), (plush.clone(), 2)]);

    let refused = orders
        .merge_cart(authed(guest(&[(&mug, 1), (&mug, 0)]), token))
        .await
        .unwrap_err();
    assert_eq!(
        fields(&refused),
        ["items[1].quantity", "items[1].product_id"]
    );
    assert_eq!(lines(&get(&mut orders, token).await), lines(&merged));
    shop.stop().await;
}
