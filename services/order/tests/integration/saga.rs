//! The place-order saga end to end with the real inventory and payment services, on real
//! Postgres and RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use crate::support::Shop;
use shop_platform::grpc_status;
use shop_proto::common::v1::PageRequest;
use shop_proto::order::v1 as pb;
use shop_test_services::authed;
use tonic::Code;
use uuid::Uuid;

fn events(order: &pb::Order) -> Vec<String> {
    order.timeline.iter().map(|e| e.event.clone()).collect()
}

#[tokio::test]
async fn a_paid_order_is_confirmed_its_stock_sold_and_charged_once() {
    let shop = Shop::start().await;
    let product = shop.product(10, 1299).await;

    let order = shop.place(&product, 2, "tok_visa").await.unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Confirmed);
    // The lines, and standard shipping to Dublin below 50.00 EUR.
    assert_eq!(order.subtotal.as_ref().unwrap().amount_minor, 2598);
    assert_eq!(order.shipping.as_ref().unwrap().amount_minor, 495);
    assert_eq!(order.total.as_ref().unwrap().amount_minor, 3093);
    assert_eq!(order.shipping_address, Some(Shop::address()));
    assert_eq!(order.shipping_method(), pb::ShippingMethod::Standard);
    assert_eq!(
        order.lines[0].unit_price.as_ref().unwrap().amount_minor,
        1299
    );
    assert!(
        !order.lines[0].name.is_empty(),
        "priced and named by inventory"
    );
    assert_eq!(
        events(&order),
        ["placed", "stock_reserved", "payment_captured", "confirmed"]
    );

    // order.confirmed reaches inventory: held stock becomes sold.
    shop.eventually(Duration::from_secs(15), "stock sold", || async {
        shop.stock(&product).await == (8, 0, 2, 10)
    })
    .await;
    let order_id = Uuid::parse_str(&order.id).unwrap();
    let charged = shop.processor().entry(order_id).await.unwrap().unwrap();
    assert!(charged.captured);
    assert_eq!(charged.amount.amount_minor, 3093, "the charge is the total");
    assert_eq!(shop.processor().total_captures(), 1);
    shop.stop().await;
}

#[tokio::test]
async fn an_order_for_more_than_the_stock_is_rejected_and_nothing_is_charged() {
    let shop = Shop::start().await;
    let product = shop.product(1, 500).await;
    let order = shop.place(&product, 2, "tok_visa").await.unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Rejected);
    assert_eq!(order.reason, "out_of_stock");
    assert!(
        shop.processor()
            .entry(Uuid::parse_str(&order.id).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(shop.stock(&product).await, (1, 0, 0, 1));
    shop.stop().await;
}

#[tokio::test]
async fn an_order_above_the_largest_total_is_rejected_in_words_a_customer_can_read() {
    let shop = Shop::start().await;
    // The highest price a product may have: 100,000.00; eleven of them are 1,100,000.00, above
    // the largest order total (1,000,000.00).
    let product = shop.product(20, 10_000_000).await;
    let order = shop.place(&product, 11, "tok_visa").await.unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Rejected);
    assert_eq!(order.reason, "total_too_large");
    let refusal = order
        .timeline
        .iter()
        .find(|entry| entry.event == "total_too_large")
        .expect("the timeline says why");
    assert_eq!(
        refusal.detail,
        "the total is above the largest order the shop accepts (1,000,000.00 EUR)"
    );
    for entry in &order.timeline {
        for internal in [
            "inventory",
            "InvalidArgument",
            "FailedPrecondition",
            "status",
        ] {
            assert!(!entry.detail.contains(internal), "{entry:?}");
        }
    }
    assert!(
        shop.processor()
            .entry(Uuid::parse_str(&order.id).unwrap())
            .await
            .unwrap()
            .is_none(),
        "nothing was charged"
    );
    assert_eq!(shop.stock(&product).await, (20, 0, 0, 20));
    shop.stop().await;
}

#[tokio::test]
async fn a_declined_card_rejects_the_order_and_releases_its_stock() {
    let shop = Shop::start().await;
    let product = shop.product(5, 999).await;
    let order = shop.place(&product, 3, "tok_declined").await.unwrap();
    assert_eq!(order.status(), pb::OrderStatus::Rejected);
    assert_eq!(order.reason, "payment_declined");
    assert!(events(&order).contains(&"stock_released".to_owned()));
    assert_eq!(shop.stock(&product).await, (5, 0, 0, 5));
    shop.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_placements_with_one_key_make_one_order_and_one_charge() {
    let shop = Shop::start().await;
    let product = shop.product(50, 700).await;
    let key = Uuid::now_v7().to_string();
    let attempts = (0..20).map(|_| shop.place_with_key(&key, &product, 1, "tok_visa"));
    let outcomes = futures::future::join_all(attempts).await;

    let placed: Vec<pb::Order> = outcomes
        .into_iter()
        .filter_map(|o| match o {
            Ok(order) => Some(order),
            // A duplicate that outwaited its patience is told the first is still in flight.
            Err(status) if status.code() == Code::Aborted => None,
            Err(status) => panic!("unexpected {status:?}"),
        })
        .collect();
    assert!(!placed.is_empty());
    assert!(
        placed.iter().all(|o| o.id == placed[0].id),
        "one order for one key"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&shop.order.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    assert_eq!(shop.processor().total_captures(), 1);
    assert_eq!(shop.stock(&product).await.0, 49, "reserved once");

    let retried = shop
        .place_with_key(&key, &product, 1, "tok_visa")
        .await
        .unwrap();
    assert_eq!(
        retried.id, placed[0].id,
        "a later retry returns the same order"
    );
    let reused = shop
        .place_with_key(&key, &product, 2, "tok_visa")
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::FailedPrecondition);
    assert_eq!(
        grpc_status::reason_of(&reused).as_deref(),
        Some("IDEMPOTENCY_KEY_REUSED")
    );
    shop.stop().await;
}

#[tokio::test]
async fn cancelling_a_confirmed_order_restocks_and_refunds_and_the_timeline_shows_it() {
    let shop = Shop::start().await;
    let product = shop.product(4, 2000).await;
    let order = shop.place(&product, 2, "tok_visa").await.unwrap();
    shop.eventually(Duration::from_secs(15), "stock sold", || async {
        shop.stock(&product).await.2 == 2
    })
    .await;

    let cancel = || pb::CancelOrderRequest {
        order_id: order.id.clone(),
        reason: String::new(),
    };
    let cancelled = shop
        .orders()
        .await
        .cancel_order(authed(cancel(), &shop.customer_token))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(cancelled.status(), pb::OrderStatus::Cancelled);
    let again = shop
        .orders()
        .await
        .cancel_order(authed(cancel(), &shop.customer_token))
        .await
        .unwrap();
    assert_eq!(
        again.into_inner().order.unwrap().status(),
        pb::OrderStatus::Cancelled,
        "idempotent"
    );

    shop.eventually(
        Duration::from_secs(20),
        "refund in the timeline",
        || async { events(&shop.get(&order.id).await).contains(&"refunded".to_owned()) },
    )
    .await;
    shop.eventually(
        Duration::from_secs(15),
        "goods back on the shelf",
        || async { shop.stock(&product).await == (4, 0, 0, 4) },
    )
    .await;
    assert_eq!(shop.processor().total_refunds(), 1);
    shop.stop().await;
}

#[tokio::test]
async fn a_rejected_order_cannot_be_cancelled() {
    let shop = Shop::start().await;
    let product = shop.product(1, 100).await;
    let order = shop.place(&product, 5, "tok_visa").await.unwrap();
    let err = shop
        .orders()
        .await
        .cancel_order(authed(
            pb::CancelOrderRequest {
                order_id: order.id,
                reason: String::new(),
            },
            &shop.customer_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    shop.stop().await;
}

#[tokio::test]
async fn a_cancel_reason_longer_than_a_refund_can_record_is_refused_and_the_order_stays() {
    let shop = Shop::start().await;
    let product = shop.product(3, 100).await;
    let order = shop.place(&product, 1, "tok_visa").await.unwrap();
    let cancel = |reason: String| {
        authed(
            pb::CancelOrderRequest {
                order_id: order.id.clone(),
                reason,
            },
            &shop.customer_token,
        )
    };
    let err = shop
        .orders()
        .await
        .cancel_order(cancel("r".repeat(201)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(shop.processor().total_refunds(), 0);
    let cancelled = shop
        .orders()
        .await
        .cancel_order(cancel("r".repeat(200)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        cancelled.order.unwrap().status(),
        pb::OrderStatus::Cancelled
    );
    shop.stop().await;
}

#[tokio::test]
async fn another_customers_order_is_not_found_but_an_admin_sees_it() {
    let shop = Shop::start().await;
    let product = shop.product(3, 100).await;
    let order = shop.place(&product, 1, "tok_visa").await.unwrap();
    let (_, bob) = shop_test_services::customer(&shop.user, "bob@example.com").await;
    let request = || pb::GetOrderRequest {
        order_id: order.id.clone(),
    };

    let hidden = shop
        .orders()
        .await
        .get_order(authed(request(), &bob))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let refused = shop
        .orders()
        .await
        .cancel_order(authed(
            pb::CancelOrderRequest {
                order_id: order.id.clone(),
                reason: String::new(),
            },
            &bob,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);
    shop.orders()
        .await
        .get_order(authed(request(), &shop.admin_token))
        .await
        .unwrap();
    let anonymous = shop.orders().await.get_order(request()).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    shop.stop().await;
}

#[tokio::test]
async fn a_customer_lists_their_own_orders_newest_first_a_page_at_a_time() {
    let shop = Shop::start().await;
    let product = shop.product(10, 100).await;
    let mut placed = Vec::new();
    for _ in 0..5 {
        placed.push(shop.place(&product, 1, "tok_visa").await.unwrap().id);
    }
    let mut listed = Vec::new();
    let mut token = String::new();
    loop {
        let page = shop
            .orders()
            .await
            .list_orders(authed(
                pb::ListOrdersRequest {
                    page: Some(PageRequest {
                        page_size: 2,
                        page_token: token.clone(),
                    }),
                    ..Default::default()
                },
                &shop.customer_token,
            ))
            .await
            .unwrap()
            .into_inner();
        listed.extend(page.orders.into_iter().map(|o| o.id));
        token = page.page.unwrap().next_page_token;
        if token.is_empty() {
            break;
        }
    }
    placed.reverse();
    assert_eq!(listed, placed);
    shop.stop().await;
}

#[tokio::test]
async fn malformed_orders_are_invalid_argument_with_the_fields_named() {
    let shop = Shop::start().await;
    let err = shop
        .orders()
        .await
        .place_order(authed(
            pb::PlaceOrderRequest {
                idempotency_key: String::new(),
                lines: vec![pb::PlaceOrderLine {
                    product_id: "nope".to_owned(),
                    quantity: 0,
                }],
                card_token: String::new(),
                ..Default::default()
            },
            &shop.customer_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = grpc_status::violations_of(&err)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        fields,
        [
            "idempotency_key",
            "items[0].product_id",
            "items[0].quantity",
            "card_token",
            "shipping_address.name",
            "shipping_address.line1",
            "shipping_address.city",
            "shipping_address.postal_code",
            "shipping_address.country",
            "shipping_method"
        ]
    );
    shop.stop().await;
}
