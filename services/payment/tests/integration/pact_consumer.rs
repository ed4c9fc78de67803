//! Consumer contract: what the payment service needs of `order.cancelled`.
//!
//! The pact's message is published to RabbitMQ as the pact describes it (routing key and
//! content type from its metadata) and consumed by the running payment service, which must
//! refund the order's payment. The order service verifies the committed copy
//! (`tests/pacts/shop-payment-shop-order.json`) against the events its real code writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::{Duration, Instant};

use crate::support::Bed;
use pact_consumer::prelude::*;
use pact_consumer::{json_pattern, json_pattern_internal, like};
use shop_testkit::contracts::{PactMessage, cloud_event, event_metadata};

#[tokio::test]
async fn payment_refunds_on_the_order_cancelled_event_it_is_promised() {
    let mut pact = PactBuilder::new_v4("shop-payment", "shop-order");
    pact.with_output_dir(shop_testkit::pacts::output_dir());
    pact.message_interaction("an order.cancelled event", |mut i| {
        i.given("a paid order was cancelled");
        i.json_body(cloud_event(
            "order.cancelled",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c05",
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

    let bed = Bed::new().await;
    for message in pact.messages() {
        let message = PactMessage::of(&message);
        // The state: the order's payment was captured.
        bed.charge(message.data_id("order_id"), 4998, "tok_visa")
            .await
            .unwrap();
        message
            .publish(bed.shop.amqp.url.expose(), &bed.shop.amqp.exchange)
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while bed.payment.handle.processor.total_refunds() == 0 {
            assert!(Instant::now() < deadline, "the cancellation never refunded");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
