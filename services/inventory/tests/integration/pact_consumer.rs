//! Consumer contract: what the inventory service needs of the order service's events.
//!
//! Each message of the pact is published to RabbitMQ exactly as the pact describes it (its
//! routing key and content type come from the pact's metadata) and consumed by the running
//! inventory service: the pact states what inventory can really process, not what it hopes to.
//! The order service verifies the committed copy (`tests/pacts/shop-inventory-shop-order.json`)
//! against the events its real code writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use crate::support::TestInventory;
use pact_consumer::prelude::*;
use pact_consumer::{each_like, json_pattern, json_pattern_internal, like, term};
use shop_testkit::contracts::{PactMessage, cloud_event, event_metadata};

fn money(amount: i64) -> JsonPattern {
    json_pattern!({ "amount_minor": like!(amount), "currency": term!("^[A-Z]{3}$", "EUR") })
}

#[tokio::test]
async fn inventory_processes_the_order_events_it_is_promised() {
    let mut pact = PactBuilder::new_v4("shop-inventory", "shop-order");
    pact.with_output_dir(shop_testkit::pacts::output_dir());
    pact.message_interaction("an order.confirmed event", |mut i| {
        i.given("an order with reserved stock was confirmed");
        i.json_body(cloud_event(
            "order.confirmed",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c03",
            json_pattern!({
                "order_id": like!("01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02"),
                "user_id": like!("01936b2e-0000-7000-8000-000000000001"),
                "lines": each_like!({
                    "product_id": like!("01936b2e-5a4c-7d3e-9f10-4b2c8d1e6a01"),
                    "quantity": like!(2),
                    "unit_price": money(2499),
                }),
                "total": money(4998),
                "confirmed_at": like!("2026-11-22T10:00:01Z"),
            }),
        ));
        event_metadata(&mut i, "order.confirmed");
        i
    });
    pact.message_interaction("an order.cancelled event", |mut i| {
        i.given("a confirmed order was cancelled");
        i.json_body(cloud_event(
            "order.cancelled",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c04",
            json_pattern!({
                "order_id": like!("01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02"),
                "user_id": like!("01936b2e-0000-7000-8000-000000000001"),
                "reason": like!("changed my mind"),
                "cancelled_at": like!("2026-11-22T10:05:00Z"),
            }),
        ));
        event_metadata(&mut i, "order.cancelled");
        i
    });

    let shop = TestInventory::spawn().await;
    let product = shop.create_product("Ferris Plush", 2499, 5).await;
    for message in pact.messages() {
        let message = PactMessage::of(&message);
        let order_id = message.data_id("order_id");
        match message.routing_key.as_str() {
            "order.confirmed" => {
                // The state: two units reserved for this order.
                shop.reserve(order_id, &product, 2).await.unwrap();
                shop.wait_for_stock(&product, (3, 2, 0, 5)).await;
                message
                    .publish(shop.amqp.url.expose(), &shop.amqp.exchange)
                    .await
                    .unwrap();
                // Sold: the reservation became a sale.
                shop.wait_for_stock(&product, (3, 0, 2, 5)).await;
            }
            "order.cancelled" => {
                message
                    .publish(shop.amqp.url.expose(), &shop.amqp.exchange)
                    .await
                    .unwrap();
                // Restocked.
                shop.wait_for_stock(&product, (5, 0, 0, 5)).await;
            }
            other => panic!("no handling for {other}"),
        }
    }
    shop.stop().await;
}
