//! shop-client against the gateway served on a real socket (stub backends behind it): the
//! client reads every shape the gateway writes, and errors arrive as problems.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use crate::support::Gateway;
use shop_client::{NewOrder, NewOrderItem, ShopClient};
use shop_gateway::ShopGateway;
use shop_platform::service::Service as _;

#[tokio::test]
async fn the_client_speaks_the_whole_api_through_a_real_socket() {
    let gw = Gateway::start().await;
    let mut settings = gw.settings.clone();
    settings.http = shop_platform::config::ServerSettings::on_port(0);
    settings.admin = shop_platform::config::AdminSettings::on_port(0);
    let app = ShopGateway::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.public_addr().port());
    let stop = app.shutdown_trigger();
    let running = tokio::spawn(app.run_until_stopped());

    let shop = ShopClient::new(&base).unwrap();
    let page = shop
        .list_products(Some("plush"), Some(10), None)
        .await
        .unwrap();
    let product = shop.get_product(&page.items[0].id).await.unwrap();
    assert_eq!(product, page.items[0]);

    let registered = shop
        .register("ann@example.com", "long enough Pass1", "Ann")
        .await
        .unwrap();
    let taken = shop
        .register("ann@example.com", "long enough Pass1", "Ann")
        .await
        .unwrap();
    assert_eq!(
        (registered.status.as_str(), &taken),
        ("accepted", &registered)
    );

    let tokens = shop
        .login("ann@example.com", "right password")
        .await
        .unwrap();
    let ann = shop.with_token(&tokens.access_token);
    assert_eq!(ann.me().await.unwrap().email, "ann@example.com");
    let refreshed = shop.refresh(&tokens.refresh_token).await.unwrap();
    assert_eq!(refreshed.token_type, "Bearer");

    let placed = ann
        .place_order(
            "key-1",
            &NewOrder {
                items: Some(vec![NewOrderItem {
                    product_id: product.id.clone(),
                    quantity: 1,
                }]),
                card_token: "tok_visa".to_owned(),
                shipping_address: shop_client::ShippingAddress {
                    name: "Ann Reader".to_owned(),
                    line1: "1 Crab Lane".to_owned(),
                    line2: String::new(),
                    city: "Dublin".to_owned(),
                    postal_code: "D02 X285".to_owned(),
                    country: "IE".to_owned(),
                },
                shipping_method: "standard".to_owned(),
                expected_total: None,
            },
        )
        .await
        .unwrap();
    assert!(placed.finished);
    assert!(placed.order.is_settled());
    assert_eq!(
        ann.get_order(&placed.order.id).await.unwrap().status,
        "CONFIRMED"
    );
    assert!(!ann.list_orders(None, None).await.unwrap().items.is_empty());
    assert_eq!(
        ann.cancel_order(&placed.order.id, "test")
            .await
            .unwrap()
            .status,
        "CANCELLED"
    );
    let dashboard = ann.dashboard().await.unwrap();
    assert!(dashboard.degraded.is_empty());
    ann.logout().await.unwrap();

    let anonymous = shop.me().await.unwrap_err();
    assert_eq!(
        (anonymous.status(), anonymous.problem_type()),
        (Some(401), Some("unauthenticated"))
    );

    stop.trigger();
    running.await.unwrap().unwrap();
}
