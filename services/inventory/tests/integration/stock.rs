//! Stock and reservations on real Postgres and RabbitMQ: no overselling under contention,
//! idempotent saga steps, and events that change stock once however often they arrive.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::{Duration, Instant};

use crate::support::{TestInventory, authed};
use shop_events::order::{OrderCancelled, OrderConfirmed, OrderLine};
use shop_events::{Envelope, Money};
use shop_messaging::OutboxWriter;
use shop_platform::grpc_status;
use shop_proto::inventory::v1 as pb;
use tonic::Code;
use uuid::Uuid;

#[tokio::test]
async fn two_hundred_customers_for_ten_units_exactly_ten_succeed() {
    let shop = TestInventory::spawn().await;
    let product = shop.create_product("Last Ten Mugs", 1299, 10).await;

    let attempts = (0..200).map(|_| {
        let shop = &shop;
        let product = product.clone();
        async move { shop.reserve_retrying(Uuid::now_v7(), &product, 1).await }
    });
    let outcomes = futures::future::join_all(attempts).await;

    let reserved = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(reserved, 10);
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
        assert_eq!(
            grpc_status::reason_of(refused).as_deref(),
            Some("OUT_OF_STOCK")
        );
        assert_eq!(
            grpc_status::metadata_of(refused, "product_id").as_deref(),
            Some(product.as_str())
        );
    }
    let (available, reserved, sold, received) = shop.stock(&product).await;
    assert_eq!((available, reserved, sold), (0, 10, 0));
    assert_eq!(available + reserved + sold, received, "units are conserved");
    shop.stop().await;
}

#[tokio::test]
async fn a_reservation_is_all_or_nothing_and_priced_by_inventory() {
    let shop = TestInventory::spawn().await;
    let mug = shop.create_product("Mug", 1299, 5).await;
    let plate = shop.create_product("Plate", 800, 1).await;
    let order = Uuid::now_v7();
    let request = |plates: i64| pb::ReserveStockRequest {
        order_id: order.to_string(),
        lines: vec![
            pb::ReservationLine {
                product_id: mug.clone(),
                quantity: 2,
            },
            pb::ReservationLine {
                product_id: plate.clone(),
                quantity: plates,
            },
        ],
    };

    let err = shop
        .client()
        .await
        .reserve_stock(authed(request(2), &shop.order_token))
        .await
        .unwrap_err();
    assert_eq!(
        grpc_status::metadata_of(&err, "product_id").as_deref(),
        Some(plate.as_str())
    );
    assert_eq!(
        shop.stock(&mug).await.0,
        5,
        "the mugs were not held for a failed order"
    );

    let reservation = shop
        .client()
        .await
        .reserve_stock(authed(request(1), &shop.order_token))
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    assert_eq!(reservation.total.unwrap().amount_minor, 2 * 1299 + 800);
    assert_eq!(reservation.lines.len(), 2);
    shop.stop().await;
}

#[tokio::test]
async fn the_same_order_reserved_twice_holds_once_and_released_twice_releases_once() {
    let shop = TestInventory::spawn().await;
    let product = shop.create_product("Plush", 2499, 5).await;
    let order = Uuid::now_v7();

    let first = shop.reserve(order, &product, 2).await.unwrap();
    let again = shop.reserve(order, &product, 2).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(shop.stock(&product).await.1, 2, "held once");
    let different = shop.reserve(order, &product, 3).await.unwrap_err();
    assert_eq!(different.code(), Code::FailedPrecondition);

    for expected in [
        pb::ReservationStatus::Released,
        pb::ReservationStatus::Released,
    ] {
        let status = shop.release(order).await.unwrap();
        assert_eq!(status, expected);
    }
    assert_eq!(shop.stock(&product).await, (5, 0, 0, 5), "released once");
    let unknown = shop.release(Uuid::now_v7()).await.unwrap();
    assert_eq!(
        unknown,
        pb::ReservationStatus::Unspecified,
        "nothing to release is not an error"
    );
    shop.stop().await;
}

#[tokio::test]
async fn a_reservation_past_its_ttl_is_released_by_the_expiry_worker() {
    let shop = TestInventory::spawn_with(|s| {
        s.reservations.ttl = Duration::from_secs(1);
        s.reservations.expiry_interval = Duration::from_millis(100);
    })
    .await;
    let product = shop.create_product("Socks", 999, 3).await;
    shop.reserve(Uuid::now_v7(), &product, 3).await.unwrap();
    assert_eq!(shop.stock(&product).await.0, 0);

    let deadline = Instant::now() + Duration::from_secs(10);
    while shop.stock(&product).await.0 != 3 {
        assert!(Instant::now() < deadline, "the reservation never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shop.stock(&product).await, (3, 0, 0, 3));
    shop.stop().await;
}

/// Publishes `envelope` to the inventory's exchange `times` times, with one message id.
async fn deliver<E: shop_events::Event>(
    shop: &TestInventory,
    envelope: &Envelope<E>,
    times: usize,
) {
    let connection = lapin::Connection::connect(
        shop.amqp.url.expose(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    let body = serde_json::to_vec(envelope).unwrap();
    for _ in 0..times {
        channel
            .basic_publish(
                shop.amqp.exchange.clone().into(),
                E::TYPE.into(),
                lapin::options::BasicPublishOptions::default(),
                &body,
                lapin::BasicProperties::default()
                    .with_message_id(envelope.id.to_string().into())
                    .with_type(E::TYPE.into()),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

/// The changes `product.changed` announced for `product`, oldest first (published or not: the
/// outbox keeps published rows for a while).
async fn announced(shop: &TestInventory, product: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT payload->'data'->>'change' FROM outbox \
         WHERE routing_key = 'product.changed' AND payload->>'subject' = $1 ORDER BY created_at, id",
    )
    .bind(product)
    .fetch_all(&shop.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn order_events_delivered_several_times_change_stock_once() {
    let shop = TestInventory::spawn().await;
    let product = shop.create_product("Hoodie", 4999, 5).await;
    let order = Uuid::now_v7();
    shop.reserve(order, &product, 2).await.unwrap();
    let writer = OutboxWriter::new("order");

    let confirmed = writer.envelope(OrderConfirmed {
        order_id: order,
        user_id: Uuid::now_v7(),
        lines: vec![OrderLine {
            product_id: Uuid::parse_str(&product).unwrap(),
            quantity: 2,
            unit_price: Money::new(4999, "EUR").unwrap(),
        }],
        total: Money::new(9998, "EUR").unwrap(),
        confirmed_at: chrono::Utc::now(),
        details: None,
    });
    deliver(&shop, &confirmed, 3).await;
    shop.wait_for_stock(&product, (3, 0, 2, 5)).await;
    // Selling moves reserved stock to sold; what shoppers see (3 available) stays, so only the
    // reservation was announced.
    assert_eq!(announced(&shop, &product).await, ["created", "stock"]);

    let cancelled = writer.envelope(OrderCancelled {
        order_id: order,
        user_id: Uuid::now_v7(),
        reason: "changed my mind".to_owned(),
        cancelled_at: chrono::Utc::now(),
    });
    deliver(&shop, &cancelled, 3).await;
    shop.wait_for_stock(&product, (5, 0, 0, 5)).await;
    // Give a duplicate every chance to apply a second time before concluding it did not.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(shop.stock(&product).await, (5, 0, 0, 5));
    assert_eq!(
        announced(&shop, &product).await,
        ["created", "stock", "stock"]
    );
    shop.stop().await;
}

#[tokio::test]
async fn the_latency_flag_slows_reservations_while_it_is_on_without_a_restart() {
    let flags = shop_testkit::FlagFile::new();
    let file = flags.setting();
    let shop = TestInventory::spawn_with(|settings| {
        settings.flags.file = file;
        settings.flags.reload_interval = Duration::from_millis(100);
    })
    .await;
    let product = shop.create_product("Slow Mug", 1299, 10).await;
    let timed = async |shop: &TestInventory| {
        let started = Instant::now();
        shop.reserve(Uuid::now_v7(), &product, 1).await.unwrap();
        started.elapsed()
    };
    assert!(timed(&shop).await < Duration::from_millis(1500));

    flags.set(&[("inventory-latency-ms", "slow")]).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let slow = timed(&shop).await;
    assert!(slow >= Duration::from_millis(1500), "{slow:?}");

    flags.set(&[("inventory-latency-ms", "off")]).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(timed(&shop).await < Duration::from_millis(1500));
    shop.stop().await;
}
