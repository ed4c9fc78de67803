//! One checkout is one trace: the gateway's HTTP span, the gRPC spans of the saga, and the
//! AMQP consumer span of inventory selling the reservation after `order.confirmed`, all under
//! one trace id, exported by five separate processes over OTLP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use shop_client::{NewOrder, NewOrderItem};
use shop_system_tests::{OtlpReceiver, SystemShop};

#[tokio::test]
async fn one_checkout_is_one_trace_across_all_five_services_and_the_broker() {
    let (receiver, endpoint) = OtlpReceiver::start().await.unwrap();
    let shop = SystemShop::start_with(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        // Export every 200 ms rather than every 5 s.
        ("OTEL_BSP_SCHEDULE_DELAY", "200".to_owned()),
    ])
    .await
    .unwrap();

    let client = shop.client();
    client
        .register("tracy@example.com", "a long enough passphrase", "Tracy")
        .await
        .unwrap();
    let tokens = client
        .login("tracy@example.com", "a long enough passphrase")
        .await
        .unwrap();
    let tracy = client.with_token(&tokens.access_token);
    let product = client
        .list_products(None, Some(20), None)
        .await
        .unwrap()
        .items[0]
        .clone();
    // The checkout is the shop's first request that carries a token, so the gateway and the
    // order service fetch the signing keys from the user service inside it: that is how the
    // user service appears in a checkout trace at all.
    let order = tracy
        .place_order(
            "traced-checkout",
            &NewOrder {
                items: Some(vec![NewOrderItem {
                    product_id: product.id.clone(),
                    quantity: 1,
                }]),
                card_token: "tok_visa".to_owned(),
                shipping_address: shop_system_tests::dublin(),
                shipping_method: "express".to_owned(),
                expected_total: None,
            },
        )
        .await
        .unwrap()
        .order;
    assert_eq!(order.status, "CONFIRMED");

    // The checkout's trace is the one whose root is the gateway's POST /api/v1/orders.
    let deadline = Instant::now() + Duration::from_secs(30);
    let trace_id = loop {
        let root = receiver
            .spans()
            .into_iter()
            .find(|s| s.service == "shop-gateway" && s.name == "POST /api/v1/orders");
        if let Some(root) = root {
            break root.trace_id;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway never exported the checkout span"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let consumed = |spans: &[shop_system_tests::ReceivedSpan]| {
        spans
            .iter()
            .any(|s| s.service == "shop-inventory" && s.name == "order.confirmed process")
    };
    while !consumed(&receiver.trace(&trace_id)) {
        assert!(
            Instant::now() < deadline,
            "inventory's consumer span never joined the trace: {:#?}",
            receiver.trace(&trace_id)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shop.stop().await.unwrap();

    let services = receiver.services_in(&trace_id);
    let expected: BTreeSet<String> = [
        "shop-gateway",
        "shop-user",
        "shop-inventory",
        "shop-order",
        "shop-payment",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(services, expected, "{:#?}", receiver.trace(&trace_id));

    let spans = receiver.trace(&trace_id);
    let names: BTreeSet<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "shop.order.v1.OrderService/PlaceOrder",
        "shop.inventory.v1.InventoryService/ReserveStock",
        "shop.payment.v1.PaymentService/Charge",
        "order.confirmed publish",
        "order.confirmed process",
    ] {
        assert!(names.contains(expected), "no {expected} in {names:#?}");
    }
    // Every span but the root has its parent in the same trace: one tree, not fragments.
    let ids: BTreeSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let roots: Vec<_> = spans
        .iter()
        .filter(|s| !ids.contains(s.parent_span_id.as_str()))
        .collect();
    assert_eq!(roots.len(), 1, "one root span: {roots:#?}");
    assert_eq!(roots[0].name, "POST /api/v1/orders");
}
