//! The {{name}} service on real Postgres, Redis and RabbitMQ: it starts, answers health and
//! reflection, serves its RPCs as its authorization table says, applies its migrations, and
//! reacts to a confirmed order exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::{Duration, Instant};

use shop_events::Money;
use shop_events::order::OrderConfirmed;
use shop_messaging::{OutboxRelay, OutboxWriter};
use shop_platform::config::{AdminSettings, Secret, ServerSettings};
use shop_platform::service::Service as _;
use shop_proto::{{name}}::v1 as pb;
use shop_proto::{{name}}::v1::{{name}}_service_client::{{Name}}ServiceClient;
use shop_test_services::{TestShop, authed, customer};
use shop_testkit::grpc::{connect, health, reflected_services};
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use uuid::Uuid;

#[tokio::test]
async fn the_service_serves_its_notes_and_notes_every_confirmed_order_once() {
    let mut shop = TestShop::new().await;
    let user = shop.user(|_| {}).await;
    let (customer_id, token) = customer(&user, "ann@example.com").await;
    let (url, pool) = shop.new_database().await;
    let mut settings = shop_{{name}}::Settings {
        grpc: ServerSettings::on_port(0),
        admin: AdminSettings::on_port(0),
        amqp: shop.amqp.clone(),
        ..shop_{{name}}::Settings::default()
    };
    settings.database.url = Secret::new(url);
    settings.redis.url = Secret::new(shop.redis_url.clone());
    settings.redis.key_prefix.clone_from(&shop.redis_prefix);
    settings.upstream.user = user.uri();
    let built = shop_{{name}}::Shop{{Name}}::build(settings).await.unwrap();
    let addr = built.public_addr();
    let stop = built.shutdown_trigger();
    let running = tokio::spawn(built.run_until_stopped());

    // Health, reflection, migrations.
    let service = "shop.{{name}}.v1.{{Name}}Service";
    assert_eq!(health(addr, service).await, ServingStatus::Serving);
    assert!(reflected_services(addr).await.iter().any(|s| s == service));
    let notes: i64 = sqlx::query_scalar("SELECT count(*) FROM note")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(notes, 0);

    // The RPCs, as the table says: customers write, anyone reads.
    let mut client = {{Name}}ServiceClient::new(connect(addr).await);
    let anonymous = client
        .create_note(pb::CreateNoteRequest {
            text: "hello".to_owned(),
        })
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let written = client
        .create_note(authed(
            pb::CreateNoteRequest {
                text: "hello".to_owned(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .note
        .unwrap();
    assert_eq!(written.author_id, customer_id);
    let read = client
        .get_note(pb::GetNoteRequest {
            note_id: written.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .note
        .unwrap();
    assert_eq!(read, written);
    let empty = client
        .create_note(authed(pb::CreateNoteRequest { text: " ".to_owned() }, &token))
        .await
        .unwrap_err();
    assert_eq!(empty.code(), Code::InvalidArgument);

    // A confirmed order, published the way the order service publishes it.
    let (_, outbox) = shop.new_database().await;
    shop_messaging::MIGRATOR.run(&outbox).await.unwrap();
    let order_id = Uuid::now_v7();
    let confirmed = OrderConfirmed {
        order_id,
        user_id: Uuid::parse_str(&customer_id).unwrap(),
        lines: Vec::new(),
        total: Money::new(1299, "EUR").unwrap(),
        confirmed_at: chrono::Utc::now(),
        details: None,
    };
    let mut tx = outbox.begin().await.unwrap();
    OutboxWriter::new("order")
        .append(&mut tx, confirmed)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let relay_stop = CancellationToken::new();
    let relay = tokio::spawn(
        OutboxRelay::new(outbox.clone(), shop.amqp.clone(), "order").run(relay_stop.clone()),
    );
    let text = format!("order {order_id} confirmed, 12.99 EUR");
    let notes_of_the_order = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM note WHERE text = $1")
            .bind(&text)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while notes_of_the_order().await != 1 {
        assert!(Instant::now() < deadline, "the confirmed order left no note");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Delivered again, as when a relay dies between publishing and recording it: no new note.
    sqlx::query("UPDATE outbox SET published_at = NULL")
        .execute(&outbox)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&outbox)
                .await
                .unwrap();
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the event was not published again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(notes_of_the_order().await, 1);

    relay_stop.cancel();
    relay.await.unwrap().unwrap();
    stop.trigger();
    running.await.unwrap().unwrap();
    shop.stop().await;
}
