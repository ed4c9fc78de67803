//! Fulfilment against the real services: admins ship a confirmed order and record its
//! delivery; customers cannot, and can no longer cancel once it has shipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // A test fails loudly.

use shop_platform::grpc_status::reason_of;
use shop_proto::order::v1 as pb;
use shop_test_services::authed;
use tonic::Code;

use crate::support::Shop;

fn ship(order_id: &str) -> pb::ShipOrderRequest {
    pb::ShipOrderRequest {
        order_id: order_id.to_owned(),
        carrier: "An Post".to_owned(),
        tracking_number: "RX123456789IE".to_owned(),
    }
}

fn events(order: &pb::Order) -> Vec<&str> {
    order.timeline.iter().map(|e| e.event.as_str()).collect()
}

#[tokio::test]
async fn an_admin_ships_and_delivers_and_a_shipped_order_cannot_be_cancelled() {
    let shop = Shop::start().await;
    let product = shop.product(5, 1000).await;
    let order = shop.place(&product, 1, "tok_visa").await.unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Confirmed);
    let mut orders = shop.orders().await;

    let refused = orders
        .ship_order(authed(ship(&order.id), &shop.customer_token))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let shipped = orders
        .ship_order(authed(ship(&order.id), &shop.admin_token))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(shipped.status(), pb::OrderStatus::Shipped);
    assert_eq!(
        (shipped.carrier.as_str(), shipped.tracking_number.as_str()),
        ("An Post", "RX123456789IE")
    );
    assert_eq!(events(&shipped).last(), Some(&"shipped"));
    let again = orders
        .ship_order(authed(ship(&order.id), &shop.admin_token))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(again.timeline.len(), shipped.timeline.len(), "shipped once");

    let cancel = orders
        .cancel_order(authed(
            pb::CancelOrderRequest {
                order_id: order.id.clone(),
                reason: String::new(),
            },
            &shop.customer_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(cancel.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&cancel).as_deref(), Some("ORDER_ALREADY_SHIPPED"));

    let deliver = || pb::DeliverOrderRequest {
        order_id: order.id.clone(),
    };
    let delivered = orders
        .deliver_order(authed(deliver(), &shop.admin_token))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(delivered.status(), pb::OrderStatus::Delivered);
    assert_eq!(
        events(&delivered),
        [
            "placed",
            "stock_reserved",
            "payment_captured",
            "confirmed",
            "shipped",
            "delivered"
        ]
    );
    // The customer sees the same, with the tracking.
    let seen = shop.get(&order.id).await;
    assert_eq!(seen.status(), pb::OrderStatus::Delivered);
    assert_eq!(seen.tracking_number, "RX123456789IE");
    shop.stop().await;
}

#[tokio::test]
async fn fulfilment_follows_the_order_of_things_and_names_bad_fields() {
    let shop = Shop::start().await;
    let product = shop.product(5, 1000).await;
    let mut orders = shop.orders().await;
    let declined = shop.place(&product, 1, "tok_declined").await.unwrap();
    assert_eq!(declined.status(), pb::OrderStatus::Rejected);
    let not_shippable = orders
        .ship_order(authed(ship(&declined.id), &shop.admin_token))
        .await
        .unwrap_err();
    assert_eq!(
        reason_of(&not_shippable).as_deref(),
        Some("ORDER_NOT_SHIPPABLE")
    );

    let confirmed = shop.place(&product, 1, "tok_visa").await.unwrap();
    let not_deliverable = orders
        .deliver_order(authed(
            pb::DeliverOrderRequest {
                order_id: confirmed.id.clone(),
            },
            &shop.admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        reason_of(&not_deliverable).as_deref(),
        Some("ORDER_NOT_DELIVERABLE")
    );

    let blank = orders
        .ship_order(authed(
            pb::ShipOrderRequest {
                order_id: "nope".to_owned(),
                carrier: " ".to_owned(),
                tracking_number: "x".repeat(65),
            },
            &shop.admin_token,
        ))
        .await
        .unwrap_err();
    let fields: Vec<String> = shop_platform::grpc_status::violations_of(&blank)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(fields, ["order_id", "carrier", "tracking_number"]);
    shop.stop().await;
}
