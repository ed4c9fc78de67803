//! The edge under stress: rate limits shared through real Redis, a breaker that opens on a
//! failing backend and closes when it recovers, and the catalog cache dropped by events from
//! real RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

mod support;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use shop_events::product::{ProductChange, ProductChanged};
use shop_gateway::config::RatePolicy;
use shop_messaging::{Broadcast, OutboxWriter};
use shop_platform::config::Secret;
use shop_testkit::proxy::TcpProxy;
use support::Gateway;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[tokio::test]
async fn the_request_after_the_burst_is_429_with_retry_after_and_two_gateways_share_the_budget() {
    let first = Gateway::start_with(|s| {
        s.rate_limit.anonymous = RatePolicy {
            per_minute: 60,
            burst: 3,
        }
    })
    .await;
    let prefix = first.settings.redis.key_prefix.clone();
    let second = Gateway::on(first.stubs.clone(), |s| {
        s.rate_limit.anonymous = RatePolicy {
            per_minute: 60,
            burst: 3,
        };
        s.redis.key_prefix = prefix;
    })
    .await;

    let a = first.get("/api/v1/products", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        (a.header("ratelimit-limit"), a.header("ratelimit-remaining")),
        (Some("3"), Some("2"))
    );
    assert_eq!(
        second.get("/api/v1/products", None).await.status,
        StatusCode::OK,
        "the other replica"
    );
    assert_eq!(
        first.get("/api/v1/products", None).await.status,
        StatusCode::OK
    );

    let limited = second.get("/api/v1/products", None).await;
    assert_eq!(
        (limited.status, limited.problem()),
        (StatusCode::TOO_MANY_REQUESTS, "rate-limited")
    );
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!(
        (1..=2).contains(&retry_after),
        "one request per second comes back: {retry_after}"
    );
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    // The storefront itself is not what the limit protects.
    assert_eq!(first.get("/", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn login_has_a_stricter_budget_than_browsing() {
    let gw = Gateway::start_with(|s| {
        s.rate_limit.auth = RatePolicy {
            per_minute: 10,
            burst: 2,
        }
    })
    .await;
    let attempt = || {
        gw.post(
            "/api/v1/auth/login",
            None,
            json!({ "email": "a@example.com", "password": "guess" }),
        )
    };
    assert_eq!(attempt().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(attempt().await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        gw.get("/api/v1/products", None).await.status,
        StatusCode::OK,
        "browsing is unaffected"
    );
}

#[tokio::test]
async fn signed_in_customers_are_limited_per_user_not_per_address() {
    let gw = Gateway::start_with(|s| {
        s.rate_limit.user = RatePolicy {
            per_minute: 60,
            burst: 2,
        }
    })
    .await;
    let (_, ann) = gw.stubs.token(false);
    let (_, bob) = gw.stubs.token(false);
    for _ in 0..2 {
        assert_eq!(
            gw.get("/api/v1/orders", Some(&ann)).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        gw.get("/api/v1/orders", Some(&ann)).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        gw.get("/api/v1/orders", Some(&bob)).await.status,
        StatusCode::OK,
        "bob has his own budget"
    );
}

#[tokio::test]
async fn when_redis_is_gone_the_limiter_fails_open_or_closed_as_configured() {
    let redis = shop_testkit::redis_url().await;
    let proxy = TcpProxy::start(redis.trim_start_matches("redis://").to_owned()).await;
    let through_proxy = format!("redis://{}", proxy.addr());
    let open = Gateway::start_with({
        let url = through_proxy.clone();
        move |s| s.redis.url = Secret::new(url)
    })
    .await;
    let closed = Gateway::start_with(move |s| {
        s.redis.url = Secret::new(through_proxy);
        s.rate_limit.fail_open = false;
    })
    .await;
    proxy.cut();
    assert_eq!(
        open.get("/api/v1/products", None).await.status,
        StatusCode::OK,
        "fail open: the shop keeps selling"
    );
    let refused = closed.get("/api/v1/products", None).await;
    assert_eq!(
        (refused.status, refused.problem()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
}

#[tokio::test]
async fn a_failing_backend_opens_its_breaker_and_the_breaker_closes_when_it_recovers() {
    let gw = Gateway::start_with(|s| {
        s.breaker.failures = 3;
        s.breaker.open_for = Duration::from_millis(800);
        s.retry.attempts = 0;
    })
    .await;
    gw.stubs.script().inventory_fails_with = Some(tonic::Code::Unavailable);
    for _ in 0..3 {
        let reply = gw.get("/api/v1/products", None).await;
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    }
    let calls = gw.stubs.script().inventory_calls;
    let started = Instant::now();
    let fast = gw.get("/api/v1/products", None).await;
    assert_eq!(
        (fast.status, fast.problem()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(fast.header("retry-after").is_some());
    assert_eq!(
        gw.stubs.script().inventory_calls,
        calls,
        "the open breaker did not call the backend"
    );
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "and failed fast"
    );

    gw.stubs.script().inventory_fails_with = None;
    tokio::time::sleep(Duration::from_millis(900)).await;
    assert_eq!(
        gw.get("/api/v1/products", None).await.status,
        StatusCode::OK,
        "recovered"
    );
    assert_eq!(
        gw.get("/api/v1/products", None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_read_retries_a_briefly_unavailable_backend_but_a_write_does_not() {
    let gw = Gateway::start_with(|s| s.retry.attempts = 2).await;
    gw.stubs.script().inventory_fails_with = Some(tonic::Code::Unavailable);
    let before = gw.stubs.script().inventory_calls;
    gw.get("/api/v1/products", None).await;
    assert_eq!(
        gw.stubs.script().inventory_calls - before,
        3,
        "a read: one call and two retries"
    );

    let (_, admin) = gw.stubs.token(true);
    let before = gw.stubs.script().inventory_calls;
    gw.post(
        "/api/v1/products",
        Some(&admin),
        json!({ "name": "Pin", "price": { "amount_minor": 5, "currency": "EUR" } }),
    )
    .await;
    assert_eq!(
        gw.stubs.script().inventory_calls - before,
        1,
        "a write is never repeated by the gateway"
    );
}

#[tokio::test]
async fn a_cached_product_is_dropped_the_moment_inventory_announces_a_change() {
    let gw = Gateway::start().await;
    let stop = CancellationToken::new();
    let subscription = Broadcast::<ProductChanged, _>::new(
        gw.settings.amqp.clone(),
        "test.product-changes",
        gw.state.catalog.clone(),
    );
    let listening = tokio::spawn(subscription.run(stop.clone()));

    let id = gw.stubs.script().products[0].id.clone();
    let uri = format!("/api/v1/products/{id}");
    assert_eq!(gw.get(&uri, None).await.body["name"], "Ferris Plush");
    let calls = gw.stubs.script().inventory_calls;
    assert_eq!(gw.get(&uri, None).await.body["name"], "Ferris Plush");
    assert_eq!(
        gw.stubs.script().inventory_calls,
        calls,
        "the second read came from the gateway's cache"
    );

    gw.stubs.script().products[0].name = "Ferris Plush XL".to_owned();
    let event = OutboxWriter::new("inventory").envelope(ProductChanged {
        product_id: Uuid::parse_str(&id).unwrap(),
        change: ProductChange::Updated,
        changed_at: chrono::Utc::now(),
    });
    let connection = lapin::Connection::connect(
        gw.settings.amqp.url.expose(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Publish until the subscription (which declares its queue asynchronously) hears it.
        channel
            .basic_publish(
                gw.settings.amqp.exchange.clone().into(),
                "product.changed".into(),
                lapin::options::BasicPublishOptions::default(),
                &serde_json::to_vec(&event).unwrap(),
                lapin::BasicProperties::default(),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if gw.get(&uri, None).await.body["name"] == "Ferris Plush XL" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the change never reached the cache"
        );
    }
    stop.cancel();
    listening.await.unwrap().unwrap();
    shop_messaging::topology::teardown(&gw.settings.amqp)
        .await
        .unwrap();
}
