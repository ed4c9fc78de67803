//! The admin HTTP port: `/healthz` (alive), `/readyz` (ready for traffic) and `/metrics`.
//!
//! It is separate from the public port so probes and scrapes never compete with customers, are
//! never exposed through the ingress, and keep answering while the public server drains.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::FutureExt;
use futures::future::BoxFuture;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

/// How long one readiness check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

type Check = Arc<dyn Fn() -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// What a failing dependency means for serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dependency {
    /// Nothing can be served without it: while it fails, the instance is not ready.
    Required,
    /// The service fails open without it (a cache, a rate limiter, a denylist that admits
    /// signed tokens): while it fails, the instance still serves, so it stays ready and says
    /// so in `/readyz`'s body (`"degraded"`) and in `readiness_dependency_up`. Pulling every
    /// instance out of the load balancer over it would turn a degraded shop into an outage.
    FailsOpen,
}

/// Whether this instance should receive traffic: not draining, and every required dependency
/// answering.
#[derive(Clone, Default)]
pub struct Readiness {
    inner: Arc<ReadinessInner>,
}

#[derive(Default)]
struct ReadinessInner {
    draining: AtomicBool,
    checks: std::sync::RwLock<Vec<(&'static str, Dependency, Check)>>,
}

/// What one round of checks found: the dependencies that failed, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Required dependencies that failed: the instance is not ready.
    pub failing: Vec<&'static str>,
    /// Dependencies the service fails open on that failed: ready, but degraded.
    pub degraded: Vec<&'static str>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("draining", &self.is_draining())
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// Adds a check of a dependency nothing can be served without, e.g. a `SELECT 1` against
    /// the service's database.
    pub fn add_check<F, Fut>(&self, name: &'static str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.add_dependency(name, Dependency::Required, check);
    }

    /// Adds a dependency check of either kind (see [`Dependency`]).
    pub fn add_dependency<F, Fut>(&self, name: &'static str, kind: Dependency, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let check: Check = Arc::new(move || check().boxed());
        self.inner
            .checks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((name, kind, check));
    }

    /// From now on the instance reports not ready; the first step of a graceful shutdown.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// Runs every check concurrently and records each dependency's state in
    /// `readiness_dependency_up{dependency}` (1 or 0).
    pub async fn check(&self) -> CheckReport {
        let checks: Vec<(&'static str, Dependency, Check)> = self
            .inner
            .checks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let results =
            futures::future::join_all(checks.into_iter().map(|(name, kind, check)| async move {
                let up = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                    Ok(Ok(())) => true,
                    Ok(Err(err)) => {
                        tracing::warn!(
                            check = name,
                            error = format!("{err:#}"),
                            "readiness check failed"
                        );
                        false
                    }
                    Err(_) => {
                        tracing::warn!(check = name, "readiness check timed out");
                        false
                    }
                };
                metrics::gauge!("readiness_dependency_up", "dependency" => name).set(if up {
                    1.0
                } else {
                    0.0
                });
                (name, kind, up)
            }))
            .await;
        let mut report = CheckReport::default();
        for (name, kind, up) in results {
            match (kind, up) {
                (_, true) => {}
                (Dependency::Required, false) => report.failing.push(name),
                (Dependency::FailsOpen, false) => report.degraded.push(name),
            }
        }
        report
    }

    /// The required dependencies that fail right now.
    pub async fn failing_checks(&self) -> Vec<&'static str> {
        self.check().await.failing
    }
}

/// The process-wide Prometheus recorder. Installing is idempotent, so several services started
/// in one test process share it.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            // Buckets sized for request latencies from sub-millisecond to a few seconds.
            let buckets = [
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0,
            ];
            let builder = PrometheusBuilder::new();
            let builder = match builder.set_buckets(&buckets) {
                Ok(with_buckets) => with_buckets,
                // Only fails for an empty bucket list, which the constant above is not.
                Err(_) => PrometheusBuilder::new(),
            };
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first (a test harness); metrics then
            // go there, and this handle renders an empty page.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

#[derive(Clone)]
struct AdminState {
    readiness: Readiness,
    metrics: PrometheusHandle,
}

/// The admin router; `upkeep` of the histogram buckets is driven by [`run_metrics_upkeep`].
pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .with_state(AdminState {
            readiness,
            metrics: prometheus(),
        })
}

/// Keeps histogram storage bounded; runs until `stop` resolves.
pub async fn run_metrics_upkeep(stop: impl Future<Output = ()>) {
    let handle = prometheus();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = tick.tick() => handle.run_upkeep(),
            () = &mut stop => return,
        }
    }
}

async fn healthz() -> Response {
    (StatusCode::OK, axum::Json(json!({ "status": "alive" }))).into_response()
}

async fn readyz(State(state): State<AdminState>) -> Response {
    if state.readiness.is_draining() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "draining" })),
        )
            .into_response();
    }
    let CheckReport { failing, degraded } = state.readiness.check().await;
    if !failing.is_empty() {
        let body = json!({ "status": "not_ready", "failing": failing, "degraded": degraded });
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    if degraded.is_empty() {
        (StatusCode::OK, axum::Json(json!({ "status": "ready" }))).into_response()
    } else {
        let body = json!({ "status": "degraded", "degraded": degraded });
        (StatusCode::OK, axum::Json(body)).into_response()
    }
}

async fn metrics_page(State(state): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Asks the admin port at `addr` for `path` and returns the HTTP status.
///
/// This is the `probe` command behind container healthchecks: runtime images have no shell or
/// curl, so the service binary checks itself. An unspecified listen address (`0.0.0.0`, `::`)
/// is probed on loopback.
pub async fn probe(addr: SocketAddr, path: &str, timeout: Duration) -> anyhow::Result<u16> {
    use anyhow::Context as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let target = if addr.ip().is_unspecified() {
        let loopback: IpAddr = if addr.is_ipv4() {
            Ipv4Addr::LOCALHOST.into()
        } else {
            Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(loopback, addr.port())
    } else {
        addr
    };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(target)
            .await
            .with_context(|| format!("cannot connect to the admin port {target}"))?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        // The status line is all we need; it fits in the first read of any sane server.
        let mut head = vec![0_u8; 256];
        let mut filled = 0;
        while filled < head.len() && !head[..filled].contains(&b'\n') {
            let read = stream.read(&mut head[filled..]).await?;
            if read == 0 {
                break;
            }
            filled += read;
        }
        parse_status_line(&head[..filled])
            .with_context(|| format!("{target} did not answer with an HTTP status line"))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .with_context(|| format!("no answer from {target} within {timeout:?}"))?
}

fn parse_status_line(head: &[u8]) -> Option<u16> {
    let line = head.split(|&byte| byte == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK\r\n"), Some(200));
        assert_eq!(
            parse_status_line(b"HTTP/1.1 503 Service Unavailable\r\nx: y"),
            Some(503)
        );
        assert_eq!(parse_status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(parse_status_line(b""), None);
    }
}
