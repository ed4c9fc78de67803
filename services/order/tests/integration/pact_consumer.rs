//! Consumer contract: what the order service needs of `payment.refunded`.
//!
//! The pact's message is published to RabbitMQ as the pact describes it (routing key and
//! content type from its metadata) and consumed by the running order service, which records the
//! refund in the order's timeline. The payment service verifies the committed copy
//! (`tests/pacts/shop-order-shop-payment.json`) against the events its real code writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use crate::support::Shop;
use chrono::Utc;
use pact_consumer::prelude::*;
use pact_consumer::{json_pattern, json_pattern_internal, like, term};
use shop_kernel::LeaseToken;
use shop_messaging::OutboxWriter;
use shop_order::adapters::postgres::PgOrderStore;
use shop_order::app::ports::{Lease, NewOrder, OrderStore as _};
use shop_order::domain::Order;
use shop_testkit::contracts::{PactMessage, cloud_event, event_metadata};
use uuid::Uuid;

/// The state "a cancelled order was paid": an order with exactly this id in the order database.
async fn an_order(shop: &Shop, id: Uuid) {
    let now = Utc::now();
    let (order, placed) = Order::place(
        id,
        Uuid::parse_str(&shop.customer_id).unwrap(),
        &[(Uuid::now_v7(), 1)],
        now + chrono::Duration::minutes(2),
        now,
    );
    PgOrderStore::new(shop.order.pool.clone(), OutboxWriter::new("order"))
        .create(NewOrder {
            from_cart: false,
            order,
            placed,
            idempotency_key: "pact-state".to_owned(),
            fingerprint: vec![0],
            card_token: "tok_visa".to_owned(),
            lease: Lease {
                token: LeaseToken::new(),
                until: now + chrono::Duration::minutes(1),
            },
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn order_records_the_payment_refunded_event_it_is_promised() {
    let mut pact = PactBuilder::new_v4("shop-order", "shop-payment");
    pact.with_output_dir(shop_testkit::pacts::output_dir());
    pact.message_interaction("a payment.refunded event", |mut i| {
        i.given("a cancelled order was refunded");
        i.json_body(cloud_event(
            "payment.refunded",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c06",
            json_pattern!({
                "payment_id": like!("01936b2e-8d7f-7061-c243-7e5f1a4b9d04"),
                "order_id": like!("01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02"),
                "amount": {
                    "amount_minor": like!(4998),
                    "currency": term!("^[A-Z]{3}$", "EUR"),
                },
                "reason": like!("changed my mind"),
                "refunded_at": like!("2026-11-22T10:05:02Z"),
            }),
        ));
        event_metadata(&mut i, "payment.refunded");
        i
    });

    let shop = Shop::start().await;
    for message in pact.messages() {
        let message = PactMessage::of(&message);
        let order_id = message.data_id("order_id");
        an_order(&shop, order_id).await;
        message
            .publish(shop.shop.amqp.url.expose(), &shop.shop.amqp.exchange)
            .await
            .unwrap();
        shop.eventually(
            Duration::from_secs(15),
            "the refund in the timeline",
            || async {
                let order = shop.get(&order_id.to_string()).await;
                order.timeline.iter().any(|entry| {
                    entry.event == "refunded"
                        && entry.detail.contains("49.98 EUR (changed my mind)")
                })
            },
        )
        .await;
    }
    shop.stop().await;
}
