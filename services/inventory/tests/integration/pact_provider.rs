//! Provider contract: the events the inventory service publishes are what its consumers'
//! committed pacts expect (gateway: `product.changed`).
//!
//! A real product is created and changed through the service; the test reads what that wrote
//! to the outbox, exactly as the relay will publish it (routing key, content type, body).
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use crate::support::TestInventory;
use shop_messaging::OutgoingMessage;
use shop_testkit::contracts::{Published, verify_message_pacts};
use uuid::Uuid;

#[tokio::test]
async fn the_inventory_events_satisfy_every_consumers_pact() {
    let shop = TestInventory::spawn().await;
    let product = shop.create_product("Ferris Plush", 2499, 5).await;
    shop.reserve(Uuid::now_v7(), &product, 1).await.unwrap();

    let stored = OutgoingMessage::stored(&shop.pool).await.unwrap();
    let published: Vec<Published> = stored
        .into_iter()
        .map(|m| Published::new(m.routing_key, m.content_type, m.body))
        .collect();
    let problems = verify_message_pacts("shop-inventory", &published).await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    shop.stop().await;
}
