//! The customer's mail, sent by the real user service through its real SMTP transport to an
//! SMTP server started by the test, from events on the real broker: one mail per event however
//! often it is delivered, SMTP failures retried, then dead-lettered.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use chrono::Utc;
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use shop_events::order::{Address, NamedLine, OrderConfirmed, OrderDetails, OrderShipped};
use shop_events::payment::PaymentRefunded;
use shop_events::{Envelope, Event, Money};
use shop_messaging::OutboxWriter;
use shop_platform::config::Secret;
use shop_testkit::SmtpServer;
use shop_testkit::smtp::ReceivedMail;
use uuid::Uuid;

use crate::support::TestApp;

const WAIT: Duration = Duration::from_secs(20);

async fn app_mailing_to(smtp: &SmtpServer) -> TestApp {
    let url = smtp.url();
    TestApp::spawn_with(move |s| {
        s.mail.smtp_url = Secret::new(url);
        s.amqp.max_attempts = 3;
    })
    .await
}

/// Publishes `envelope` to the service's exchange `times` times, as a relay that crashed
/// before recording its publishes would.
async fn deliver<E: Event>(app: &TestApp, envelope: &Envelope<E>, times: usize) {
    let (_connection, channel) = shop_testkit::broker::connect(app.settings.amqp.url.expose())
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let body = serde_json::to_vec(envelope).unwrap();
    for _ in 0..times {
        channel
            .basic_publish(
                app.settings.amqp.exchange.clone().into(),
                E::TYPE.into(),
                BasicPublishOptions::default(),
                &body,
                BasicProperties::default()
                    .with_message_id(envelope.id.to_string().into())
                    .with_type(E::TYPE.into()),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

/// How many messages wait, ready, in the service's mail queue (`main`) or its dead letters.
async fn waiting(app: &TestApp, dead_letters: bool) -> u32 {
    let names = shop_messaging::topology::QueueNames::new(
        &app.settings.amqp,
        &shop_events::subscriptions::USER_MAILS,
    );
    let queue = if dead_letters {
        names.dead_letter
    } else {
        names.main
    };
    shop_testkit::broker::queue_depth(app.settings.amqp.url.expose(), &queue)
        .await
        .unwrap()
}

/// Waits until the service's mail queue (or its dead letters) holds `count` ready messages.
async fn wait_for_waiting(app: &TestApp, dead_letters: bool, count: u32, what: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while waiting(app, dead_letters).await != count {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn eur(minor: i64) -> Money {
    Money::new(minor, "EUR").unwrap()
}

fn to(mails: &[ReceivedMail], address: &str) -> Vec<ReceivedMail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == address))
        .cloned()
        .collect()
}

fn subjects(mails: &[ReceivedMail]) -> Vec<String> {
    let mut subjects: Vec<String> = mails
        .iter()
        .map(|m| m.header("Subject").unwrap_or_default())
        .collect();
    subjects.sort();
    subjects
}

#[tokio::test]
async fn each_event_mails_the_customer_once_even_when_delivered_three_times() {
    let smtp = SmtpServer::start().await.unwrap();
    let app = app_mailing_to(&smtp).await;
    let ann = app.register("ann@example.com").await;
    let welcome = smtp
        .wait_for(WAIT, "the welcome mail", |m| {
            !to(m, "ann@example.com").is_empty()
        })
        .await;
    let welcome = &to(&welcome, "ann@example.com")[0];
    assert_eq!(
        welcome.header("Subject").as_deref(),
        Some("Welcome to Ferris Shop")
    );
    assert_eq!(welcome.from, "shop@ferris-shop.example");

    let user_id = Uuid::parse_str(&ann.id).unwrap();
    let order_id = Uuid::now_v7();
    let writer = OutboxWriter::new("order");
    let confirmed = writer.envelope(OrderConfirmed {
        order_id,
        user_id,
        lines: Vec::new(),
        total: eur(3093),
        confirmed_at: Utc::now(),
        details: Some(OrderDetails {
            lines: vec![NamedLine {
                name: "Crab Mug".to_owned(),
                quantity: 2,
                unit_price: eur(1299),
            }],
            subtotal: eur(2598),
            shipping: eur(495),
            shipping_method: "standard".to_owned(),
            shipping_address: Address {
                name: "Ann Reader".to_owned(),
                line1: "1 Crab Lane".to_owned(),
                line2: String::new(),
                city: "Dublin".to_owned(),
                postal_code: "D02 X285".to_owned(),
                country: "IE".to_owned(),
            },
        }),
    });
    let shipped = writer.envelope(OrderShipped {
        order_id,
        user_id,
        carrier: "An Post".to_owned(),
        tracking_number: "RX123456789IE".to_owned(),
        shipped_at: Utc::now(),
    });
    let refunded = OutboxWriter::new("payment").envelope(PaymentRefunded {
        payment_id: Uuid::now_v7(),
        order_id,
        amount: eur(3093),
        reason: "order_cancelled".to_owned(),
        refunded_at: Utc::now(),
        user_id: Some(user_id),
    });
    deliver(&app, &confirmed, 3).await;
    deliver(&app, &shipped, 3).await;
    deliver(&app, &refunded, 3).await;

    smtp.wait_for(WAIT, "three order mails", |m| {
        to(m, "ann@example.com").len() >= 4
    })
    .await;
    // Nine deliveries of three messages: wait until the queue has handed out all of them,
    // then give the last ones a moment to be handled (as duplicates: no mail).
    wait_for_waiting(&app, false, 0, "the mail queue drained").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails = to(&smtp.received(), "ann@example.com");
    assert_eq!(
        subjects(&mails),
        [
            "Welcome to Ferris Shop".to_owned(),
            format!("Your order {order_id} has shipped"),
            format!("Your order {order_id} is confirmed"),
            format!("Your refund for order {order_id}"),
        ],
        "one mail per event: {mails:#?}"
    );
    let confirmation = mails
        .iter()
        .find(|m| m.header("Subject").unwrap().ends_with("is confirmed"))
        .unwrap();
    assert_eq!(
        confirmation.header("Message-ID"),
        Some(format!("<{}@ferris-shop>", confirmed.id))
    );
    for expected in [
        "2 x Crab Mug",
        "Total: 30.93 EUR",
        "1 Crab Lane",
        "D02 X285 Dublin",
    ] {
        assert!(
            confirmation.text().contains(expected),
            "{expected:?} missing from {}",
            confirmation.text()
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn an_smtp_server_that_fails_is_retried_and_one_that_keeps_failing_dead_letters_the_mail() {
    let smtp = SmtpServer::start().await.unwrap();
    smtp.fail_next(2);
    let app = app_mailing_to(&smtp).await;
    app.register("bob@example.com").await;
    let mails = smtp
        .wait_for(WAIT, "the welcome mail after two refusals", |m| {
            !to(m, "bob@example.com").is_empty()
        })
        .await;
    assert_eq!(to(&mails, "bob@example.com").len(), 1);
    assert_eq!(smtp.refused(), 2, "refused twice, then accepted");

    // Three attempts, all refused: the message goes to the dead-letter queue, nothing is sent.
    smtp.fail_next(usize::MAX);
    app.register("cleo@example.com").await;
    wait_for_waiting(&app, true, 1, "the welcome mail dead-lettered").await;
    assert!(to(&smtp.received(), "cleo@example.com").is_empty());
    assert!(smtp.refused() >= 5);
    app.stop().await;
}
