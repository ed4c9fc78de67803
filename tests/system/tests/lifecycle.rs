//! Every service binary, as a process: it starts on real infrastructure, answers its probes,
//! and stops cleanly on SIGTERM; a bad setting stops it at once with one line naming the key.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use shop_system_tests::{ServiceProcess, binary_path};
use shop_testkit::TestDatabase;
use shop_testkit::grpc::{health, reflected_services};
use tonic_health::pb::health_check_response::ServingStatus;

/// A gRPC backend: its binary, the service it must serve and reflect, and the settings
/// sections it has besides `grpc`, `admin` and `database`.
struct Backend {
    binary: &'static str,
    service: &'static str,
    amqp: bool,
    redis: bool,
}

const BACKENDS: &[Backend] = &[
    Backend {
        binary: "shop-user",
        service: "shop.user.v1.UserService",
        amqp: true,
        redis: true,
    },
    Backend {
        binary: "shop-inventory",
        service: "shop.inventory.v1.InventoryService",
        amqp: false,
        redis: false,
    },
    Backend {
        binary: "shop-order",
        service: "shop.order.v1.OrderService",
        amqp: false,
        redis: false,
    },
    Backend {
        binary: "shop-payment",
        service: "shop.payment.v1.PaymentService",
        amqp: false,
        redis: false,
    },
];

/// Settings for one backend process: its own database, broker names and Redis keys.
async fn backend_env(backend: &Backend, database: &TestDatabase) -> Vec<(&'static str, String)> {
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
    env
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
    for backend in BACKENDS {
        let (binary, service) = (backend.binary, backend.service);
        let database = TestDatabase::create_empty().await;
        let process = ServiceProcess::start(binary, &backend_env(backend, &database).await)
            .await
            .unwrap();

        assert_eq!(
            health(process.public_addr, "").await,
            ServingStatus::Serving,
            "{binary}"
        );
        let services = reflected_services(process.public_addr).await;
        let implemented = ["shop-user", "shop-inventory", "shop-payment"];
        if implemented.contains(&binary) {
            assert!(
                services.iter().any(|s| s == service),
                "{binary} reflects {services:?}"
            );
            assert_eq!(
                health(process.public_addr, service).await,
                ServingStatus::Serving,
                "{binary}"
            );
        } else {
            assert!(
                services.iter().any(|s| s == "grpc.health.v1.Health"),
                "{binary} reflects {services:?}"
            );
        }
        assert_admin_endpoints_answer(&process).await;

        let status = process.terminate(Duration::from_secs(5)).await.unwrap();
        assert_eq!(status.code(), Some(0), "{binary} exit status {status}");
    }
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
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains("hunter2"), "{stdout}");
    let settings: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(settings["database"]["url"], "[redacted]");
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
}

#[tokio::test]
async fn probe_exits_zero_only_while_the_service_is_ready() {
    shop_testkit::init();
    let database = TestDatabase::create_empty().await;
    let backend = &BACKENDS[3];
    let process = ServiceProcess::start(backend.binary, &backend_env(backend, &database).await)
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
