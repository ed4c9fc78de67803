//! `user.registered` leaves through the outbox exactly once per account.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use crate::support::{PASSWORD, TestApp};
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use shop_events::Envelope;
use shop_events::user::UserRegistered;
use shop_proto::user::v1 as pb;

#[tokio::test]
async fn registering_publishes_user_registered_exactly_once() {
    let app = TestApp::spawn().await;
    // A listener of our own on the service's (isolated) exchange.
    let connection = Connection::connect(
        app.settings.amqp.url.expose(),
        ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    shop_messaging::topology::declare_exchange(&channel, &app.settings.amqp)
        .await
        .unwrap();
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.name().clone(),
            app.settings.amqp.exchange.clone().into(),
            "user.registered".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let user = app.register("gina@example.com").await;
    // A second attempt with the same email creates nothing and announces nothing.
    let _ = app
        .client()
        .await
        .register(pb::RegisterRequest {
            email: "GINA@example.com".to_owned(),
            password: PASSWORD.to_owned(),
            name: "Gina".to_owned(),
        })
        .await
        .unwrap_err();

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let message = loop {
        if let Some(message) = channel
            .basic_get(queue.name().clone(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            break message;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "user.registered never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let event = Envelope::<UserRegistered>::decode(&message.delivery.data).unwrap();
    assert_eq!(event.data.user_id.to_string(), user.id);
    assert_eq!(event.data.email, "gina@example.com");
    assert_eq!(event.source, "/ferris-shop/user");

    // Nothing else follows.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let extra = channel
        .basic_get(queue.name().clone(), BasicGetOptions { no_ack: true })
        .await
        .unwrap();
    assert!(extra.is_none(), "a second user.registered was published");
    app.stop().await;
}
