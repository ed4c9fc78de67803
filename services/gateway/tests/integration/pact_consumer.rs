//! Consumer contract: what the gateway needs of `product.changed`.
//!
//! The running gateway caches product reads; the pact's message, published to RabbitMQ as the
//! pact describes it (routing key and content type from its metadata), must make it drop that
//! product, so the next read shows the change. The inventory service verifies the committed
//! copy (`tests/pacts/shop-gateway-shop-inventory.json`) against the events its real code writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::{Duration, Instant};

use crate::support::Gateway;
use pact_consumer::prelude::*;
use pact_consumer::{json_pattern, json_pattern_internal, like, term};
use shop_gateway::ShopGateway;
use shop_platform::service::Service as _;
use shop_testkit::contracts::{PactMessage, cloud_event, event_metadata};

async fn product_name(base: &str, id: &str) -> String {
    let body: serde_json::Value = reqwest::get(format!("{base}/api/v1/products/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["name"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn the_gateway_drops_a_cached_product_on_the_product_changed_event_it_is_promised() {
    let mut pact = PactBuilder::new_v4("shop-gateway", "shop-inventory");
    pact.with_output_dir(shop_testkit::pacts::output_dir());
    pact.message_interaction("a product.changed event", |mut i| {
        i.given("a product was changed");
        i.json_body(cloud_event(
            "product.changed",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c07",
            json_pattern!({
                "product_id": like!("01936b2e-5a4c-7d3e-9f10-4b2c8d1e6a01"),
                "change": term!("^(created|updated|stock)$", "updated"),
                "changed_at": like!("2026-11-22T10:00:00Z"),
            }),
        ));
        event_metadata(&mut i, "product.changed");
        i
    });

    let gateway = Gateway::start().await;
    let mut settings = gateway.settings.clone();
    settings.http = shop_platform::config::ServerSettings::on_port(0);
    settings.admin = shop_platform::config::AdminSettings::on_port(0);
    let app = ShopGateway::build(settings.clone()).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.public_addr().port());
    let stop = app.shutdown_trigger();
    let running = tokio::spawn(app.run_until_stopped());

    for message in pact.messages() {
        let message = PactMessage::of(&message);
        let id = message.data_id("product_id").to_string();
        gateway.stubs.script().products[0].id.clone_from(&id);
        assert_eq!(product_name(&base, &id).await, "Ferris Plush");
        gateway.stubs.script().products[0].name = "Ferris Plush XL".to_owned();
        assert_eq!(
            product_name(&base, &id).await,
            "Ferris Plush",
            "the gateway serves its cached copy until told otherwise"
        );

        // The gateway subscribes as it starts; publish until its queue hears the message.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            // Until the gateway has declared its topology, the exchange may not exist yet.
            let _ = message
                .publish(settings.amqp.url.expose(), &settings.amqp.exchange)
                .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            if product_name(&base, &id).await == "Ferris Plush XL" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the event never dropped the cached product"
            );
        }
    }

    stop.trigger();
    running.await.unwrap().unwrap();
    shop_messaging::topology::teardown(&settings.amqp)
        .await
        .unwrap();
}
