//! Where the backing services are: `SHOP_TEST_*` URLs, or containers started once per process.

use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, ImageExt as _};
use testcontainers_modules::{postgres::Postgres, rabbitmq::RabbitMq, redis::Redis};
use tokio::sync::OnceCell;

pub(crate) const DATABASE_ENV: &str = "SHOP_TEST_DATABASE_URL";
pub(crate) const REDIS_ENV: &str = "SHOP_TEST_REDIS_URL";
pub(crate) const AMQP_ENV: &str = "SHOP_TEST_AMQP_URL";

/// Containers live as long as the test process; the testcontainers reaper removes them after.
struct Started<I: testcontainers::Image> {
    _container: ContainerAsync<I>,
    url: String,
}

fn missing(env: &str, example: &str, err: &dyn std::fmt::Display) -> ! {
    panic!(
        "no {what} for tests: set {env} (e.g. {env}={example}) or make a Docker engine \
         available for testcontainers ({err})",
        what = env
            .trim_start_matches("SHOP_TEST_")
            .trim_end_matches("_URL")
            .to_lowercase(),
    )
}

/// URL of a Postgres server whose user may create databases (the test creates one per test).
pub(crate) async fn postgres_server_url() -> String {
    if let Ok(url) = std::env::var(DATABASE_ENV) {
        return url;
    }
    static CELL: OnceCell<Started<Postgres>> = OnceCell::const_new();
    let started = CELL
        .get_or_init(|| async {
            let container = match Postgres::default().with_tag("15-alpine").start().await {
                Ok(container) => container,
                Err(err) => missing(
                    DATABASE_ENV,
                    "postgres://postgres@127.0.0.1:5432/postgres",
                    &err,
                ),
            };
            let port = match container.get_host_port_ipv4(5432).await {
                Ok(port) => port,
                Err(err) => missing(
                    DATABASE_ENV,
                    "postgres://postgres@127.0.0.1:5432/postgres",
                    &err,
                ),
            };
            Started {
                _container: container,
                url: format!("postgres://postgres:postgres@127.0.0.1:{port}/postgres"),
            }
        })
        .await;
    started.url.clone()
}

/// URL of a Redis server. Tests isolate themselves by key prefix ([`crate::unique_name`]).
pub async fn redis_url() -> String {
    if let Ok(url) = std::env::var(REDIS_ENV) {
        return url;
    }
    static CELL: OnceCell<Started<Redis>> = OnceCell::const_new();
    let started = CELL
        .get_or_init(|| async {
            let container = match Redis::default().with_tag("7-alpine").start().await {
                Ok(container) => container,
                Err(err) => missing(REDIS_ENV, "redis://127.0.0.1:6379", &err),
            };
            let port = match container.get_host_port_ipv4(6379).await {
                Ok(port) => port,
                Err(err) => missing(REDIS_ENV, "redis://127.0.0.1:6379", &err),
            };
            Started {
                _container: container,
                url: format!("redis://127.0.0.1:{port}"),
            }
        })
        .await;
    started.url.clone()
}

/// URL of a RabbitMQ broker (3.10 or later, for quorum queues with at-least-once
/// dead-lettering). Tests isolate themselves by exchange and queue names.
pub async fn amqp_url() -> String {
    if let Ok(url) = std::env::var(AMQP_ENV) {
        return url;
    }
    static CELL: OnceCell<Started<RabbitMq>> = OnceCell::const_new();
    let started = CELL
        .get_or_init(|| async {
            let container = match RabbitMq::default()
                .with_tag("3.13-management")
                .start()
                .await
            {
                Ok(container) => container,
                Err(err) => missing(AMQP_ENV, "amqp://guest:guest@127.0.0.1:5672/%2f", &err),
            };
            let port = match container.get_host_port_ipv4(5672).await {
                Ok(port) => port,
                Err(err) => missing(AMQP_ENV, "amqp://guest:guest@127.0.0.1:5672/%2f", &err),
            };
            Started {
                _container: container,
                url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            }
        })
        .await;
    started.url.clone()
}
