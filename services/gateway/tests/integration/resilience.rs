//! The edge under stress: rate limits shared through real Redis, a breaker that opens on a
//! failing backend and closes when it recovers, and the catalog cache dropped by events from
//! real RabbitMQ.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::{Duration, Instant};

use crate::support::Gateway;
use axum::http::StatusCode;
use serde_json::json;
use shop_events::product::{ProductChange, ProductChanged};
use shop_gateway::ShopGateway;
use shop_gateway::config::RatePolicy;
use shop_messaging::{Broadcast, OutboxWriter};
use shop_platform::config::Secret;
use shop_platform::service::Service as _;
use shop_testkit::proxy::TcpProxy;
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
        // Open for 500 ms the first time, up to twice that with jitter.
        s.breaker.open_for = Duration::from_millis(500);
        s.breaker.open_at_most = Duration::from_millis(500);
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
    assert_eq!(
        fast.header("retry-after"),
        Some("1"),
        "the first open is short, so the client is asked back in a second"
    );
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
    tokio::time::sleep(Duration::from_millis(1_100)).await;
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

/// A gateway served on real sockets (its admin port answers `/readyz`), with Redis reached
/// through `redis` and `adjust` applied to its settings.
async fn serve(redis: &str, adjust: impl FnOnce(&mut shop_gateway::config::Settings)) -> Served {
    let gw = Gateway::start_with({
        let url = redis.to_owned();
        move |s| s.redis.url = Secret::new(url)
    })
    .await;
    let mut settings = gw.settings.clone();
    settings.http = shop_platform::config::ServerSettings::on_port(0);
    settings.admin = shop_platform::config::AdminSettings::on_port(0);
    adjust(&mut settings);
    let app = ShopGateway::build(settings).await.unwrap();
    Served {
        stubs: gw.stubs.clone(),
        public: app.public_addr(),
        admin: app.admin_addr(),
        stop: app.shutdown_trigger(),
        task: tokio::spawn(app.run_until_stopped()),
    }
}

struct Served {
    stubs: crate::support::stubs::Stubs,
    public: std::net::SocketAddr,
    admin: std::net::SocketAddr,
    stop: shop_platform::ShutdownTrigger,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Served {
    async fn stop(self) {
        self.stop.trigger();
        self.task.await.unwrap().unwrap();
    }
}

async fn readyz(admin: std::net::SocketAddr) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("http://{admin}/readyz"))
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn with_redis_gone_a_gateway_that_fails_open_stays_ready_and_says_it_is_degraded() {
    let redis = shop_testkit::redis_url().await;
    let proxy = TcpProxy::start(redis.trim_start_matches("redis://").to_owned()).await;
    let through_proxy = format!("redis://{}", proxy.addr());
    let served_open = serve(&through_proxy, |_| {}).await;
    let served_closed = serve(&through_proxy, |s| s.rate_limit.fail_open = false).await;
    let (open, closed) = (served_open.admin, served_closed.admin);
    assert_eq!(readyz(open).await.0, 200);
    assert_eq!(readyz(closed).await.0, 200);

    proxy.cut();
    let (status, body) = readyz(open).await;
    assert_eq!(
        (status, &body["status"], &body["degraded"]),
        (200, &json!("degraded"), &json!(["redis"])),
        "it still serves every request, so a load balancer must keep sending them"
    );
    let (status, body) = readyz(closed).await;
    assert_eq!(
        (status, &body["failing"]),
        (503, &json!(["redis"])),
        "a gateway that refuses without its rate limiter cannot serve"
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    while readyz(open).await != (200, json!({ "status": "ready" })) {
        assert!(
            Instant::now() < deadline,
            "never ready again after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    served_open.stop().await;
    served_closed.stop().await;
}

#[tokio::test]
async fn a_413_closes_its_connection_cleanly_and_the_client_goes_on_with_a_new_one() {
    let redis = shop_testkit::redis_url().await;
    let served = serve(&redis, |s| s.limits.body_bytes = 2048).await;
    let base = format!("http://{}", served.public);
    // One client, keep-alive on: without `Connection: close` it would send the next request
    // on a connection the server has given up on.
    let client = reqwest::Client::new();
    let refused = client
        .post(format!("{base}/api/v1/auth/register"))
        .json(&json!({ "email": "a@example.com", "password": "x".repeat(100_000), "name": "A" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 413);
    assert_eq!(
        refused
            .headers()
            .get("connection")
            .map(|v| v.to_str().unwrap()),
        Some("close")
    );
    for _ in 0..3 {
        let next = client
            .get(format!("{base}/api/v1/products"))
            .send()
            .await
            .unwrap();
        assert_eq!(next.status(), 200);
    }
    served.stop().await;
}

/// Reads from `tcp` until the server closes the connection; what it sent, and when it closed
/// (None if it was still open after `bound`).
async fn until_closed(
    tcp: &mut tokio::net::TcpStream,
    bound: Duration,
) -> (String, Option<Duration>) {
    use tokio::io::AsyncReadExt as _;
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 1024];
    loop {
        match tokio::time::timeout_at(
            tokio::time::Instant::from_std(started + bound),
            tcp.read(&mut buffer),
        )
        .await
        {
            Ok(Ok(0) | Err(_)) => {
                return (
                    String::from_utf8_lossy(&received).into_owned(),
                    Some(started.elapsed()),
                );
            }
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into_owned(), None),
        }
    }
}

#[tokio::test]
async fn a_client_trickling_its_headers_or_saying_nothing_is_cut_off_while_others_are_served() {
    use tokio::io::AsyncWriteExt as _;
    let redis = shop_testkit::redis_url().await;
    let served = serve(&redis, |s| {
        s.limits.header_read_timeout = Duration::from_secs(1);
    })
    .await;

    // Slowloris: one header line every 300 ms, never the blank line that ends them.
    let mut slow = tokio::net::TcpStream::connect(served.public).await.unwrap();
    slow.write_all(b"GET /api/v1/products HTTP/1.1\r\nhost: shop\r\n")
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow
                .write_all(format!("x-line-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
        slow
    });
    // A silent connection.
    let mut silent = tokio::net::TcpStream::connect(served.public).await.unwrap();

    // Meanwhile everyone else is served.
    let others = reqwest::get(format!("http://{}/api/v1/products", served.public))
        .await
        .unwrap();
    assert_eq!(others.status(), 200);

    let (_, closed) = until_closed(&mut silent, Duration::from_secs(5)).await;
    let closed = closed.expect("a silent connection must be closed");
    assert!(closed < Duration::from_secs(3), "closed after {closed:?}");
    let mut slow = trickle.await.unwrap();
    let (answer, closed) = until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(
        closed.is_some(),
        "a trickled header is cut off within the bound, not kept open: {answer}"
    );
    served.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_shed_with_503_and_retry_after() {
    use tokio::io::AsyncWriteExt as _;
    let redis = shop_testkit::redis_url().await;
    let served = serve(&redis, |s| {
        s.limits.max_connections = 2;
        s.limits.header_read_timeout = Duration::from_secs(5);
    })
    .await;
    let held: Vec<tokio::net::TcpStream> = vec![
        tokio::net::TcpStream::connect(served.public).await.unwrap(),
        tokio::net::TcpStream::connect(served.public).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut third = tokio::net::TcpStream::connect(served.public).await.unwrap();
    third
        .write_all(b"GET /api/v1/products HTTP/1.1\r\nhost: shop\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = until_closed(&mut third, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "shed connections are closed: {answer}");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("retry-after: 1"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");

    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = reqwest::Client::new()
            .get(format!("http://{}/api/v1/products", served.public))
            .send()
            .await
            .unwrap();
        if again.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "slots were never given back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    served.stop().await;
}

#[tokio::test]
async fn sign_in_passes_the_clients_address_so_failures_count_per_client() {
    let redis = shop_testkit::redis_url().await;
    let direct = serve(&redis, |_| {}).await;
    let behind_proxy = serve(&redis, |s| s.rate_limit.trust_forwarded_for = true).await;
    for served in [&direct, &behind_proxy] {
        let answer = reqwest::Client::new()
            .post(format!("http://{}/api/v1/auth/login", served.public))
            .header("x-forwarded-for", "203.0.113.7, 10.0.0.1")
            .json(&json!({ "email": "ann@example.com", "password": "right password" }))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    assert_eq!(
        direct.stubs.script().login_clients,
        ["127.0.0.1"],
        "X-Forwarded-For is not trusted unless the gateway sits behind a proxy that sets it"
    );
    assert_eq!(behind_proxy.stubs.script().login_clients, ["203.0.113.7"]);
    direct.stop().await;
    behind_proxy.stop().await;
}

#[tokio::test]
async fn a_body_that_never_finishes_is_cut_off_with_a_408_problem() {
    use tokio::io::AsyncWriteExt as _;
    let redis = shop_testkit::redis_url().await;
    let served = serve(&redis, |s| {
        s.deadlines.place_order = Duration::from_millis(500);
        s.limits.request_timeout = Duration::from_secs(1);
    })
    .await;
    let mut tcp = tokio::net::TcpStream::connect(served.public).await.unwrap();
    // Headers complete, then ten bytes of a hundred-byte body, then nothing.
    tcp.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nhost: shop\r\ncontent-type: application/json\r\n\
          content-length: 100\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let (answer, closed) = until_closed(&mut tcp, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the connection is closed: {answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("/problems/timeout"), "{answer}");
    served.stop().await;
}
