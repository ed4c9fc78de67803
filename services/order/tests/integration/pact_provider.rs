//! Provider contract: the events the order service publishes are what its consumers' committed
//! pacts expect (inventory: `order.confirmed` and `order.cancelled`; payment: `order.cancelled`;
//! user: `order.confirmed` with its details, `order.shipped`, `order.delivered`,
//! `order.cancelled`).
//!
//! The messages are not built for the test: a real checkout and a real cancellation run
//! through the service, and the test reads what they wrote to the outbox, exactly as the relay
//! will publish it (routing key, content type, body).
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use crate::support::Shop;
use shop_messaging::OutgoingMessage;
use shop_proto::order::v1 as pb;
use shop_test_services::authed;
use shop_testkit::contracts::{Published, verify_message_pacts};

#[tokio::test]
async fn the_order_events_satisfy_every_consumers_pact() {
    let shop = Shop::start().await;
    let product = shop.product(5, 2499).await;
    // A real checkout (with its address), a cancellation, a shipment and its delivery.
    let order = shop.place(&product, 2, "tok_visa").await.unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Confirmed);
    shop.orders()
        .await
        .cancel_order(authed(
            pb::CancelOrderRequest {
                order_id: order.id.clone(),
                reason: "changed my mind".to_owned(),
            },
            &shop.customer_token,
        ))
        .await
        .unwrap();
    let shipped = shop.place(&product, 1, "tok_visa").await.unwrap();
    shop.orders()
        .await
        .ship_order(authed(
            pb::ShipOrderRequest {
                order_id: shipped.id.clone(),
                carrier: "An Post".to_owned(),
                tracking_number: "RX123456789IE".to_owned(),
            },
            &shop.admin_token,
        ))
        .await
        .unwrap();
    shop.orders()
        .await
        .deliver_order(authed(
            pb::DeliverOrderRequest {
                order_id: shipped.id.clone(),
            },
            &shop.admin_token,
        ))
        .await
        .unwrap();

    let stored = OutgoingMessage::stored(&shop.order.pool).await.unwrap();
    let published: Vec<Published> = stored
        .into_iter()
        .map(|m| Published::new(m.routing_key, m.content_type, m.body))
        .collect();
    let problems = verify_message_pacts("shop-order", &published).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    shop.stop().await;
}
