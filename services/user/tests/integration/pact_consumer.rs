//! Consumer contracts: what the user service needs of the order and payment events it mails
//! the customer about.
//!
//! Each pact's message is published to RabbitMQ as the pact describes it (routing key and
//! content type from its metadata) and consumed by the running user service, which must mail
//! the customer it names, through a real SMTP server. The order and payment services verify the
//! committed copies (`tests/pacts/shop-user-shop-order.json`, `shop-user-shop-payment.json`)
//! against the events their real code writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use pact_consumer::prelude::*;
use pact_consumer::{each_like, json_pattern, json_pattern_internal, like, term};
use shop_platform::config::Secret;
use shop_testkit::SmtpServer;
use shop_testkit::contracts::{PactMessage, cloud_event, event_metadata};

use crate::support::TestApp;

const USER_ID: &str = "01936b2e-5a4c-7d3e-9f10-4b2c8d1e6a99";

fn money(amount_minor: i64) -> JsonPattern {
    json_pattern!({
        "amount_minor": like!(amount_minor),
        "currency": term!("^[A-Z]{3}$", "EUR"),
    })
}

/// Publishes every message of `pact` to the service and waits for the mail it must send,
/// whose subject contains the subject fragment of the message's `description`.
async fn each_message_mails_the_customer(
    pact: &PactBuilder,
    app: &TestApp,
    smtp: &SmtpServer,
    subjects: &[(&str, &str)],
) {
    for message in pact.messages() {
        let (_, fragment) = subjects
            .iter()
            .find(|(description, _)| *description == message.description)
            .unwrap_or_else(|| panic!("no subject for {:?}", message.description));
        let message = PactMessage::of(&message);
        message
            .publish(app.settings.amqp.url.expose(), &app.settings.amqp.exchange)
            .await
            .unwrap();
        smtp.wait_for(Duration::from_secs(15), fragment, |mails| {
            mails.iter().any(|m| {
                m.to.iter().any(|t| t == "ann@example.com")
                    && m.header("Subject").is_some_and(|s| s.contains(fragment))
            })
        })
        .await;
    }
}

/// A user service whose one customer has the id the pacts name.
async fn app_with_ann(smtp: &SmtpServer) -> TestApp {
    let url = smtp.url();
    let app = TestApp::spawn_with(move |s| s.mail.smtp_url = Secret::new(url)).await;
    let user = app.register("ann@example.com").await;
    // The welcome mail shows the consumer is running before the pact's messages are sent.
    smtp.wait_for(Duration::from_secs(15), "the welcome mail", |mails| {
        !mails.is_empty()
    })
    .await;
    sqlx::query("UPDATE users SET id = $1 WHERE id = $2")
        .bind(uuid::Uuid::parse_str(USER_ID).unwrap())
        .bind(uuid::Uuid::parse_str(&user.id).unwrap())
        .execute(&app.db.pool)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn the_user_service_mails_the_order_events_it_is_promised() {
    let mut pact = PactBuilder::new_v4("shop-user", "shop-order");
    pact.with_output_dir(shop_testkit::pacts::output_dir());
    pact.message_interaction("an order.confirmed event with its details", |mut i| {
        i.given("an order from the cart was confirmed");
        i.json_body(cloud_event(
            "order.confirmed",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c11",
            json_pattern!({
                "order_id": like!("01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02"),
                "user_id": like!(USER_ID),
                "lines": each_like!({
                    "product_id": like!("01936b2e-5a4c-7d3e-9f10-4b2c8d1e6a01"),
                    "quantity": like!(2),
                    "unit_price": money(1299),
                }),
                "total": money(3093),
                "confirmed_at": like!("2026-11-22T10:00:00Z"),
                "details": {
                    "lines": each_like!({
                        "name": like!("Crab Mug"),
                        "quantity": like!(2),
                        "unit_price": money(1299),
                    }),
                    "subtotal": money(2598),
                    "shipping": money(495),
                    "shipping_method": term!("^(standard|express)$", "standard"),
                    "shipping_address": {
                        "name": like!("Ann Reader"),
                        "line1": like!("1 Crab Lane"),
                        "city": like!("Dublin"),
                        "postal_code": like!("D02 X285"),
                        "country": term!("^[A-Z]{2}$", "IE"),
                    },
                },
            }),
        ));
        event_metadata(&mut i, "order.confirmed");
        i
    });
    pact.message_interaction("an order.shipped event", |mut i| {
        i.given("a confirmed order was shipped");
        i.json_body(cloud_event(
            "order.shipped",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c12",
            json_pattern!({
                "order_id": like!("01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02"),
                "user_id": like!(USER_ID),
                "carrier": like!("An Post"),
                "tracking_number": like!("RX123456789IE"),
                "shipped_at": like!("2026-11-23T09:00:00Z"),
            }),
        ));
        event_metadata(&mut i, "order.shipped");
        i
    });
    pact.message_interaction("an order.delivered event", |mut i| {
        i.given("a shipped order was delivered");
        i.json_body(cloud_event(
            "order.delivered",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c15",
            json_pattern!({
                "order_id": like!("01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02"),
                "user_id": like!(USER_ID),
                "delivered_at": like!("2026-11-24T09:00:00Z"),
            }),
        ));
        event_metadata(&mut i, "order.delivered");
        i
    });
    pact.message_interaction("an order.cancelled event", |mut i| {
        i.given("a confirmed order was cancelled");
        i.json_body(cloud_event(
            "order.cancelled",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c13",
            json_pattern!({
                "order_id": like!("01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02"),
                "user_id": like!(USER_ID),
                "reason": like!("changed my mind"),
                "cancelled_at": like!("2026-11-22T10:05:00Z"),
            }),
        ));
        event_metadata(&mut i, "order.cancelled");
        i
    });

    let smtp = SmtpServer::start().await.unwrap();
    let app = app_with_ann(&smtp).await;
    each_message_mails_the_customer(
        &pact,
        &app,
        &smtp,
        &[
            ("an order.confirmed event with its details", "is confirmed"),
            ("an order.shipped event", "has shipped"),
            ("an order.delivered event", "was delivered"),
            ("an order.cancelled event", "is cancelled"),
        ],
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn the_user_service_mails_the_refund_it_is_promised() {
    let mut pact = PactBuilder::new_v4("shop-user", "shop-payment");
    pact.with_output_dir(shop_testkit::pacts::output_dir());
    pact.message_interaction("a payment.refunded event naming its customer", |mut i| {
        i.given("a cancelled order was refunded");
        i.json_body(cloud_event(
            "payment.refunded",
            "01936b2e-7c6e-7f50-b132-6d4e0f3a8c14",
            json_pattern!({
                "order_id": like!("01936b2e-6b5d-7e4f-a021-5c3d9e2f7b02"),
                "payment_id": like!("01936b2e-8d7f-7061-c243-7e5f1a4b9d04"),
                "user_id": like!(USER_ID),
                "amount": money(3093),
                "reason": like!("order_cancelled"),
                "refunded_at": like!("2026-11-22T10:05:02Z"),
            }),
        ));
        event_metadata(&mut i, "payment.refunded");
        i
    });

    let smtp = SmtpServer::start().await.unwrap();
    let app = app_with_ann(&smtp).await;
    each_message_mails_the_customer(
        &pact,
        &app,
        &smtp,
        &[(
            "a payment.refunded event naming its customer",
            "Your refund",
        )],
    )
    .await;
    app.stop().await;
}
