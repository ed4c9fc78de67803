//! Provider contract: the events the payment service publishes are what its consumers'
//! committed pacts expect (order: `payment.refunded`).
//!
//! A real charge and a real refund run through the service; the test reads what they wrote to
//! the outbox, exactly as the relay will publish it (routing key, content type, body).
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use crate::support::Bed;
use shop_messaging::OutgoingMessage;
use shop_testkit::contracts::{Published, verify_message_pacts};
use uuid::Uuid;

#[tokio::test]
async fn the_payment_events_satisfy_every_consumers_pact() {
    let bed = Bed::new().await;
    let order = Uuid::now_v7();
    bed.charge(order, 4998, "tok_visa").await.unwrap();
    bed.refund(order).await;

    let stored = OutgoingMessage::stored(&bed.payment.pool).await.unwrap();
    let published: Vec<Published> = stored
        .into_iter()
        .map(|m| Published::new(m.routing_key, m.content_type, m.body))
        .collect();
    let problems = verify_message_pacts("shop-payment", &published).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
