//! Every service binary, as a process: it starts on real infrastructure, answers its probes,
//! and stops cleanly on SIGTERM; a bad setting stops it at once with one line naming the key.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use shop_system_tests::{ServiceProcess, binary_path};
use shop_testkit::TestDatabase;
use shop_testkit::grpc::{health, reflected_services, reflected_services_v1alpha};
use tonic_health::pb::health_check_response::ServingStatus;

/// A gRPC backend: its binary, the service it must serve and reflect, and the settings
/// sections it has besides `grpc`, `admin` and `database`.
struct Backend {
    binary: &'static str,
    service: &'static str,
    amqp: bool,
    redis: bool,
    /// Calls other services as itself: needs the user service and a client secret.
    identity: bool,
}

/// The order service's client secret in these tests, and its SHA-256 for the user service.
const ORDER_SECRET: &str = "lifecycle-test-secret-of-the-order-service";
const ORDER_SECRET_SHA256: &str =
    "ded882c3ef51bdbc6ebad5c281703dea663800f2c9ca75f918c479c5377a6a0f";

const BACKENDS: &[Backend] = &[
    Backend {
        binary: "shop-user",
        service: "shop.user.v1.UserService",
        amqp: true,
        redis: true,
        identity: false,
    },
    Backend {
        binary: "shop-inventory",
        service: "shop.inventory.v1.InventoryService",
        amqp: false,
        redis: true,
        identity: false,
    },
    Backend {
        binary: "shop-order",
        service: "shop.order.v1.OrderService",
        amqp: false,
        redis: true,
        identity: true,
    },
    Backend {
        binary: "shop-payment",
        service: "shop.payment.v1.PaymentService",
        amqp: false,
        redis: true,
        identity: false,
    },
];

/// Settings for one backend process: its own database, broker names and Redis keys, and for a
/// backend with an identity, the user service that issues its token.
async fn backend_env(
    backend: &Backend,
    database: &TestDatabase,
    user: Option<&ServiceProcess>,
) -> Vec<(&'static str, String)> {
    let name = shop_testkit::unique_name("sys");
    let mut env = vec![
        ("SHOP_GRPC__ADDR", "127.0.0.1:0".to_owned()),
        ("SHOP_ADMIN__ADDR", "127.0.0.1:0".to_owned()),
        ("SHOP_DATABASE__URL", database.url.clone()),
    ];
    if backend.amqp {
        env.extend([
            ("SHOP_AMQP__URL", shop_testkit::amqp_url().await),
            ("SHOP_AMQP__EXCHANGE", format!("{name}.events")),
            ("SHOP_AMQP__QUEUE_PREFIX", format!("{name}.")),
            ("SHOP_AMQP__QUEUE_EXPIRES", "20s".to_owned()),
        ]);
    }
    if backend.redis {
        env.extend([
            ("SHOP_REDIS__URL", shop_testkit::redis_url().await),
            ("SHOP_REDIS__KEY_PREFIX", format!("{name}:")),
        ]);
    }
    if backend.identity {
        let user = user.expect("a backend with an identity needs the user service");
        env.extend([
            (
                "SHOP_UPSTREAM__USER",
                format!("http://{}", user.public_addr),
            ),
            ("SHOP_IDENTITY__CLIENT_SECRET", ORDER_SECRET.to_owned()),
        ]);
    }
    env
}

/// A user service that issues the order service's token in these tests.
async fn issuer(database: &TestDatabase) -> ServiceProcess {
    let mut env = backend_env(&BACKENDS[0], database, None).await;
    env.push((
        "SHOP_SERVICE_CLIENTS__ORDER",
        ORDER_SECRET_SHA256.to_owned(),
    ));
    let mut user = ServiceProcess::start("shop-user", &env).await.unwrap();
    user.wait_ready(Duration::from_secs(20)).await.unwrap();
    user
}

async fn assert_admin_endpoints_answer(process: &ServiceProcess) {
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = reqwest::get(process.admin_url(path)).await.unwrap();
        assert_eq!(response.status(), 200, "{} {path}", process.name);
    }
}

#[tokio::test]
async fn every_backend_serves_health_and_reflection_then_stops_cleanly_on_sigterm() {
    shop_testkit::init();
    let issuer_database = TestDatabase::create_empty().await;
    let user = issuer(&issuer_database).await;
    for backend in BACKENDS {
        let (binary, service) = (backend.binary, backend.service);
        let database = TestDatabase::create_empty().await;
        let mut process =
            ServiceProcess::start(binary, &backend_env(backend, &database, Some(&user)).await)
                .await
                .unwrap();
        process.wait_ready(Duration::from_secs(20)).await.unwrap();

        assert_eq!(
            health(process.public_addr, "").await,
            ServingStatus::Serving,
            "{binary}"
        );
        for services in [
            reflected_services(process.public_addr).await,
            reflected_services_v1alpha(process.public_addr).await,
        ] {
            assert!(
                services.iter().any(|s| s == service),
                "{binary} reflects {services:?}"
            );
            assert!(
                services.iter().any(|s| s == "grpc.health.v1.Health"),
                "{binary} reflects {services:?}"
            );
        }
        assert_eq!(
            health(process.public_addr, service).await,
            ServingStatus::Serving,
            "{binary}"
        );
        assert_admin_endpoints_answer(&process).await;

        let status = process.terminate(Duration::from_secs(5)).await.unwrap();
        assert_eq!(status.code(), Some(0), "{binary} exit status {status}");
    }
    user.terminate(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn the_order_service_is_not_ready_without_its_identity() {
    shop_testkit::init();
    let database = TestDatabase::create_empty().await;
    // A user service that does not know the order service as a client.
    let issuer_database = TestDatabase::create_empty().await;
    let user = ServiceProcess::start(
        "shop-user",
        &backend_env(&BACKENDS[0], &issuer_database, None).await,
    )
    .await
    .unwrap();
    let mut order = ServiceProcess::start(
        "shop-order",
        &backend_env(&BACKENDS[2], &database, Some(&user)).await,
    )
    .await
    .unwrap();
    assert!(
        order.wait_ready(Duration::from_secs(3)).await.is_err(),
        "ready without a service token"
    );
    let readyz = reqwest::get(order.admin_url("/readyz")).await.unwrap();
    assert_eq!(readyz.status(), 503);
    let body = readyz.text().await.unwrap();
    assert!(body.contains("service-identity"), "{body}");
    order.terminate(Duration::from_secs(5)).await.unwrap();
    user.terminate(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn the_gateway_serves_http_and_its_admin_port_then_stops_cleanly_on_sigterm() {
    shop_testkit::init();
    let name = shop_testkit::unique_name("sys");
    let process = ServiceProcess::start(
        "shop-gateway",
        &[
            ("SHOP_HTTP__ADDR", "127.0.0.1:0".to_owned()),
            ("SHOP_ADMIN__ADDR", "127.0.0.1:0".to_owned()),
            ("SHOP_AMQP__URL", shop_testkit::amqp_url().await),
            ("SHOP_AMQP__EXCHANGE", format!("{name}.events")),
            ("SHOP_REDIS__URL", shop_testkit::redis_url().await),
            ("SHOP_REDIS__KEY_PREFIX", format!("{name}:")),
        ],
    )
    .await
    .unwrap();
    assert_admin_endpoints_answer(&process).await;
    let response = reqwest::get(format!(
        "http://127.0.0.1:{}/no-such-page",
        process.public_addr.port()
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 404);

    let status = process.terminate(Duration::from_secs(5)).await.unwrap();
    assert_eq!(status.code(), Some(0), "exit status {status}");
}

#[tokio::test]
async fn a_bad_setting_stops_a_service_at_once_with_one_line_naming_the_key() {
    shop_testkit::init();
    for binary in [
        "shop-user",
        "shop-inventory",
        "shop-order",
        "shop-payment",
        "shop-gateway",
    ] {
        let key = if binary == "shop-gateway" {
            "SHOP_HTTP__ADDR"
        } else {
            "SHOP_GRPC__ADDR"
        };
        let output = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::process::Command::new(binary_path(binary))
                .env(key, "nonsense")
                .output(),
        )
        .await
        .expect("exits at once")
        .unwrap();

        assert_eq!(output.status.code(), Some(78), "{binary}: EX_CONFIG");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{binary} printed: {stderr}");
        assert!(lines[0].contains(key), "{binary} printed: {stderr}");
        assert!(!stderr.contains("panicked"), "{binary} printed: {stderr}");
    }
}

/// Runs `binary` with exactly `env` (plus PATH) and waits for it to exit.
async fn run_tool(binary: &str, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(binary_path(binary))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .output(),
    )
    .await
    .expect("exits at once")
    .unwrap()
}

#[tokio::test]
async fn check_config_prints_the_effective_settings_without_secrets_and_rejects_a_typo() {
    let secret_url = "postgres://order_svc:hunter2@db.internal:5432/orders".to_owned();
    let output = run_tool(
        "shop-order",
        &["check-config"],
        &[
            ("SHOP_DATABASE__URL", secret_url),
            ("SHOP_UPSTREAM__PAYMENT", "http://payment:50054".to_owned()),
            ("SHOP_IDENTITY__CLIENT_SECRET", ORDER_SECRET.to_owned()),
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(!stdout.contains(ORDER_SECRET), "{stdout}");
    let settings: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(settings["database"]["url"], "[redacted]");
    assert_eq!(settings["identity"]["client_secret"], "[redacted]");
    assert_eq!(settings["upstream"]["payment"], "http://payment:50054");
    assert_eq!(
        settings["grpc"]["addr"], "0.0.0.0:50053",
        "defaults fill the rest"
    );

    let output = run_tool(
        "shop-order",
        &["check-config"],
        &[("SHOP_UPSTREAM__PAYMNET", "http://payment:50054".to_owned())],
    )
    .await;
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("paymnet"), "{stderr}");

    // A service that calls others as itself does not start without its secret, and says how
    // to make one.
    let output = run_tool("shop-order", &["check-config"], &[]).await;
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SHOP_IDENTITY__CLIENT_SECRET"), "{stderr}");
    assert!(
        stderr.contains("shop-user service-credentials order"),
        "{stderr}"
    );
}

#[tokio::test]
async fn each_backend_prints_its_access_table() {
    // Printed without any configuration: it is part of the binary.
    for backend in BACKENDS {
        let output = run_tool(backend.binary, &["access-table"], &[]).await;
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let table: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(table["service"], backend.service);
        assert!(table["methods"].as_object().is_some_and(|m| !m.is_empty()));
    }
    let gateway = run_tool("shop-gateway", &["access-table"], &[]).await;
    assert_eq!(gateway.status.code(), Some(1), "{gateway:?}");
}

#[tokio::test]
async fn probe_exits_zero_only_while_the_service_is_ready() {
    shop_testkit::init();
    let database = TestDatabase::create_empty().await;
    let backend = &BACKENDS[3];
    let process =
        ServiceProcess::start(backend.binary, &backend_env(backend, &database, None).await)
            .await
            .unwrap();
    // The probe reads the admin address from the same settings as the service, as a container
    // healthcheck does; here the test's port stands in for the configured one.
    let admin = [("SHOP_ADMIN__ADDR", process.admin_addr.to_string())];

    let ready = run_tool(backend.binary, &["probe"], &admin).await;
    assert_eq!(ready.status.code(), Some(0), "{ready:?}");

    process.terminate(Duration::from_secs(5)).await.unwrap();
    let gone = run_tool(backend.binary, &["probe"], &admin).await;
    assert_eq!(gone.status.code(), Some(1), "{gone:?}");
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert!(stderr.contains("probe failed"), "{stderr}");
}
