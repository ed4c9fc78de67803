//! The process host every service runs in: a public server (gRPC, or HTTP for the gateway), the
//! admin server, background workers, and the graceful shutdown that ties them together.
//!
//! Shutdown on SIGTERM/SIGINT (or [`ShutdownTrigger::trigger`] in tests), in this order:
//! 1. readiness turns false and gRPC health turns `NOT_SERVING`, so balancers stop routing here;
//! 2. after `pre_stop_delay` the public listener closes, workers are told to stop, and in-flight
//!    requests drain, bounded by `drain_timeout`;
//! 3. the admin server stops last, so probes see every step.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::ConnectInfo;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceExt as _;

use crate::admin::{self, Readiness};
use crate::config::{AdminSettings, ServerSettings, ShutdownSettings};
use crate::grpc::GrpcObservabilityLayer;
use crate::shutdown;

/// Starts a graceful shutdown of a running host from code (tests, or a fatal worker error).
#[derive(Debug, Clone, Default)]
pub struct ShutdownTrigger(CancellationToken);

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.0.cancel();
    }
}

enum Public {
    Grpc {
        routes: RoutesBuilder,
        health: HealthReporter,
        services: Vec<&'static str>,
    },
    Http {
        router: Router,
        limits: ConnectionLimits,
    },
}

/// A gRPC service the host can serve: what tonic generates (`FooServiceServer`), possibly
/// behind layers.
pub trait GrpcService:
    tower::Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<tonic::body::Body>,
        Error = Infallible,
    > + NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> GrpcService for S where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// How the HTTP server protects itself from slow and from too many clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A client must send a request's whole header within this, and an idle keep-alive
    /// connection is closed after it: a client trickling header lines (slowloris) or holding a
    /// silent connection cannot keep it.
    pub header_read_timeout: Duration,
    /// Connections served at once. A connection beyond it is answered `503` with `Retry-After`
    /// and closed at once, before the process runs out of sockets or memory.
    pub max_connections: usize,
}

type Worker = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

/// A bound, not yet running service process. Build it, register services, readiness checks and
/// workers, then [`ServiceHost::run`]; tests bind port 0 and read the ports back.
pub struct ServiceHost {
    name: &'static str,
    public: Public,
    public_listener: TcpListener,
    admin_listener: TcpListener,
    readiness: Readiness,
    shutdown: ShutdownSettings,
    trigger: ShutdownTrigger,
    workers: Vec<(&'static str, Worker)>,
}

impl std::fmt::Debug for ServiceHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceHost")
            .field("name", &self.name)
            .field("public_addr", &self.public_listener.local_addr().ok())
            .field("admin_addr", &self.admin_listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl ServiceHost {
    /// Binds the gRPC and admin listeners of a backend service.
    pub async fn grpc(
        name: &'static str,
        grpc: &ServerSettings,
        admin: &AdminSettings,
        shutdown: ShutdownSettings,
    ) -> anyhow::Result<Self> {
        let (health, health_service) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health_service);
        let public = Public::Grpc {
            routes,
            health,
            services: Vec::new(),
        };
        Self::bind(name, public, grpc.addr, admin, shutdown).await
    }

    /// Binds the HTTP and admin listeners of the gateway.
    pub async fn http(
        name: &'static str,
        router: Router,
        http: &ServerSettings,
        limits: ConnectionLimits,
        admin: &AdminSettings,
        shutdown: ShutdownSettings,
    ) -> anyhow::Result<Self> {
        let public = Public::Http { router, limits };
        Self::bind(name, public, http.addr, admin, shutdown).await
    }

    async fn bind(
        name: &'static str,
        public: Public,
        public_addr: SocketAddr,
        admin: &AdminSettings,
        shutdown: ShutdownSettings,
    ) -> anyhow::Result<Self> {
        let public_listener = TcpListener::bind(public_addr)
            .await
            .with_context(|| format!("binding the public listener on {public_addr}"))?;
        let admin_listener = TcpListener::bind(admin.addr)
            .await
            .with_context(|| format!("binding the admin listener on {}", admin.addr))?;
        Ok(Self {
            name,
            public,
            public_listener,
            admin_listener,
            readiness: Readiness::default(),
            shutdown,
            trigger: ShutdownTrigger::default(),
            workers: Vec::new(),
        })
    }

    /// Registers a gRPC service; it reports `SERVING` on grpc.health.v1 once the host runs.
    ///
    /// # Panics
    /// On an HTTP host: registering gRPC services there is a wiring bug caught by any test.
    #[allow(clippy::panic)]
    pub fn add_service<S: GrpcService>(&mut self, service: S) -> &mut Self
    where
        S::Future: Send + 'static,
    {
        match &mut self.public {
            Public::Grpc {
                routes, services, ..
            } => {
                routes.add_service(service);
                services.push(S::NAME);
            }
            Public::Http { .. } => panic!("gRPC service registered on the HTTP host {}", self.name),
        }
        self
    }

    /// The readiness state, to add dependency checks to.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Runs `worker` next to the server (an outbox relay, a consumer, a recovery loop). It gets
    /// a token that is cancelled at shutdown and must return soon after. A worker that fails
    /// shuts the whole process down: a service without its workers is not healthy.
    pub fn spawn_worker<F, Fut>(&mut self, name: &'static str, worker: F) -> &mut Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.workers
            .push((name, Box::new(move |token| Box::pin(worker(token)))));
        self
    }

    /// Runs `round` every `interval` next to the server (expiring reservations, recovering
    /// sagas, publishing revocations), the first round at once. A failed round is logged and
    /// counted in `worker_round_failures_total{worker}`, and the next one runs on schedule; a
    /// round that overruns delays the next instead of piling rounds up. Stops at shutdown.
    pub fn spawn_periodic<F, Fut>(
        &mut self,
        name: &'static str,
        interval: Duration,
        mut round: F,
    ) -> &mut Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.spawn_worker(name, move |stop| async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    _ = ticks.tick() => {}
                }
                if let Err(err) = round().await {
                    metrics::counter!("worker_round_failures_total", "worker" => name).increment(1);
                    let error = format!("{err:#}");
                    tracing::warn!(
                        worker = name,
                        error,
                        "a periodic round failed; the next runs on schedule"
                    );
                }
            }
        })
    }

    pub fn public_addr(&self) -> SocketAddr {
        // A bound listener always has a local address; the fallback is unreachable.
        self.public_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// A handle that starts the graceful shutdown, as SIGTERM would.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.trigger.clone()
    }

    /// Serves until SIGTERM/SIGINT or the trigger, then shuts down gracefully.
    pub async fn run(self) -> anyhow::Result<()> {
        let Self {
            name,
            public,
            public_listener,
            admin_listener,
            readiness,
            shutdown: settings,
            trigger,
            workers,
        } = self;
        let public_addr = public_listener
            .local_addr()
            .context("reading the public address")?;
        let admin_addr = admin_listener
            .local_addr()
            .context("reading the admin address")?;

        // Signals become the trigger; so does the end of any part that should run forever.
        let signal_trigger = trigger.clone();
        let signal_task = tokio::spawn(async move {
            shutdown::signal().await;
            tracing::info!("shutdown signal received");
            signal_trigger.trigger();
        });

        let admin_stop = CancellationToken::new();
        let admin_task = {
            let router = admin::router(readiness.clone());
            let stop = admin_stop.clone();
            tokio::spawn(async move {
                let upkeep = admin::run_metrics_upkeep(stop.clone().cancelled_owned());
                let serve = axum::serve(admin_listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned());
                let (served, ()) = tokio::join!(serve, upkeep);
                served.context("admin server failed")
            })
        };

        let worker_stop = CancellationToken::new();
        let mut worker_tasks = JoinSet::new();
        for (worker_name, worker) in workers {
            let stop = worker_stop.clone();
            let trigger = trigger.clone();
            worker_tasks.spawn(async move {
                let result = worker(stop.clone()).await;
                if !stop.is_cancelled() {
                    match &result {
                        Ok(()) => {
                            tracing::error!(worker = worker_name, "worker stopped unexpectedly");
                        }
                        Err(err) => {
                            let error = format!("{err:#}");
                            tracing::error!(worker = worker_name, error, "worker failed");
                        }
                    }
                    trigger.trigger();
                }
                (worker_name, result)
            });
        }

        let public_stop = CancellationToken::new();
        let (public_task, health) = spawn_public(
            public,
            public_listener,
            public_stop.clone(),
            trigger.clone(),
        )
        .await;

        tracing::info!(service = name, %public_addr, %admin_addr, "service started");

        trigger.0.cancelled().await;
        signal_task.abort();

        // 1. Stop attracting traffic.
        readiness.start_draining();
        if let Some((reporter, services)) = &health {
            reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
            for service in services {
                reporter
                    .set_service_status(*service, ServingStatus::NotServing)
                    .await;
            }
        }
        if !settings.pre_stop_delay.is_zero() {
            tracing::info!(delay = ?settings.pre_stop_delay, "draining: waiting before closing the listener");
            tokio::time::sleep(settings.pre_stop_delay).await;
        }

        // 2. Close the listener, stop workers, let in-flight work finish within the bound.
        public_stop.cancel();
        worker_stop.cancel();
        let deadline = tokio::time::Instant::now() + settings.drain_timeout;
        let mut outcome = drain_public(public_task, deadline).await;
        let worker_outcome = drain_workers(&mut worker_tasks, deadline).await;
        if outcome.is_ok() {
            outcome = worker_outcome;
        }

        // 3. The admin server goes last.
        admin_stop.cancel();
        match tokio::time::timeout(Duration::from_secs(1), admin_task).await {
            Ok(Ok(Err(err))) if outcome.is_ok() => outcome = Err(err),
            _ => {}
        }
        tracing::info!(service = name, ok = outcome.is_ok(), "service stopped");
        outcome
    }
}

type HealthHandle = (HealthReporter, Vec<&'static str>);

async fn spawn_public(
    public: Public,
    listener: TcpListener,
    stop: CancellationToken,
    trigger: ShutdownTrigger,
) -> (
    tokio::task::JoinHandle<anyhow::Result<()>>,
    Option<HealthHandle>,
) {
    match public {
        Public::Grpc {
            routes,
            health,
            services,
        } => {
            for service in &services {
                health
                    .set_service_status(*service, ServingStatus::Serving)
                    .await;
            }
            // Reflection describes exactly what this server serves, not every shop contract,
            // in both protocol versions: grpcurl and current tools speak v1, while Python's
            // grpcio-reflection, Postman and older grpcurl only speak v1alpha.
            let reflection = || {
                let mut builder = tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(shop_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                    .with_service_name("grpc.health.v1.Health");
                for service in &services {
                    builder = builder.with_service_name(*service);
                }
                builder
            };
            let mut routes = routes;
            // The descriptor sets are compiled in; failing to read them is a build defect, and a
            // server without reflection still serves its clients.
            match reflection().build_v1() {
                Ok(service) => {
                    routes.add_service(service);
                }
                Err(err) => tracing::error!(error = %err, "gRPC reflection (v1) unavailable"),
            }
            match reflection().build_v1alpha() {
                Ok(service) => {
                    routes.add_service(service);
                }
                Err(err) => tracing::error!(error = %err, "gRPC reflection (v1alpha) unavailable"),
            }
            // Nagle's algorithm would hold small responses back for the peer's delayed ACK.
            let incoming = TcpListenerStream::new(listener).map(|stream| {
                if let Ok(stream) = &stream {
                    let _ = stream.set_nodelay(true);
                }
                stream
            });
            let server = tonic::transport::Server::builder()
                .layer(GrpcObservabilityLayer)
                .add_routes(routes.routes());
            let task = tokio::spawn(async move {
                let result = server
                    .serve_with_incoming_shutdown(incoming, stop.cancelled_owned())
                    .await
                    .context("gRPC server failed");
                trigger.trigger();
                result
            });
            (task, Some((health, services)))
        }
        Public::Http { router, limits } => {
            let task = tokio::spawn(async move {
                let result = serve_http(listener, router, limits, stop).await;
                trigger.trigger();
                result
            });
            (task, None)
        }
    }
}

/// Serves `router` on `listener` until `stop`, then lets the open connections finish (the
/// caller bounds that wait). hyper's server directly rather than `axum::serve`, for what
/// `axum::serve` does not expose: the header read timeout and the connection cap.
async fn serve_http(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (tcp, remote) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, most likely: wait instead of spinning.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Nagle's algorithm would hold small responses back for the peer's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            metrics::counter!("http_connections_shed_total").increment(1);
            tokio::spawn(shed(tcp));
            continue;
        };
        let service = router
            .clone()
            .map_request(move |mut request: http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request
            });
        let builder = Arc::clone(&builder);
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // hyper's timer starts with the first byte of a request (before it, the server only
            // waits to learn the protocol): a connection that says nothing is closed here.
            let mut first = [0_u8; 1];
            let spoke = tokio::time::timeout(limits.header_read_timeout, tcp.peek(&mut first));
            if !matches!(spoke.await, Ok(Ok(1..))) {
                drop(slot);
                return;
            }
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(tcp),
                TowerToHyperService::new(service),
            );
            if let Err(err) = watcher.watch(connection).await {
                tracing::debug!(error = %err, %remote, "HTTP connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answers a connection over the cap with a 503 problem and closes it.
async fn shed(mut tcp: TcpStream) {
    const BODY: &str = r#"{"type":"https://ferris-shop.dev/problems/unavailable","title":"Service temporarily unavailable","status":503,"detail":"too many connections; please retry shortly"}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         retry-after: 1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let write = async {
        tcp.write_all(response.as_bytes()).await?;
        tcp.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

async fn drain_public(
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    deadline: tokio::time::Instant,
) -> anyhow::Result<()> {
    let abort = task.abort_handle();
    match tokio::time::timeout_at(deadline, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join_error)) => Err(anyhow::anyhow!(
            "public server task ended abnormally: {join_error}"
        )),
        Err(_) => {
            tracing::warn!("drain timeout reached; cutting off requests still in flight");
            abort.abort();
            Ok(())
        }
    }
}

async fn drain_workers(
    tasks: &mut JoinSet<(&'static str, anyhow::Result<()>)>,
    deadline: tokio::time::Instant,
) -> anyhow::Result<()> {
    let mut outcome = Ok(());
    loop {
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(None) => return outcome,
            Ok(Some(Ok((name, Err(err))))) => {
                if outcome.is_ok() {
                    outcome = Err(err.context(format!("worker {name} failed")));
                }
            }
            Ok(Some(Ok((_, Ok(()))))) => {}
            Ok(Some(Err(join_error))) => {
                if outcome.is_ok() {
                    outcome = Err(anyhow::anyhow!("a worker ended abnormally: {join_error}"));
                }
            }
            Err(_) => {
                tracing::warn!(
                    remaining = tasks.len(),
                    "drain timeout reached; aborting workers"
                );
                tasks.abort_all();
                return outcome;
            }
        }
    }
}
