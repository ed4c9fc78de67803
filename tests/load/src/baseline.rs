//! Bare servers to measure the shop against: what the machine does with no shop in the way.
//!
//! - `hello`: axum answering a constant; the ceiling for any HTTP endpoint here.
//! - `hop`: axum making one tonic call to a bare gRPC server (grpc.health.v1 Check) per
//!   request; the ceiling for an endpoint that must ask a backend, as an uncached read does.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// The bare servers, running until the process ends.
#[derive(Debug)]
pub struct Baselines {
    /// `http://127.0.0.1:<port>` of the axum server (`/hello`, `/hop`).
    pub http: String,
}

pub async fn start() -> anyhow::Result<Baselines> {
    let grpc = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the gRPC baseline")?;
    let grpc_addr: SocketAddr = grpc.local_addr()?;
    let (_reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(TcpListenerStream::new(grpc)),
    );

    let channel = Channel::from_shared(format!("http://{grpc_addr}"))?.connect_lazy();
    let app = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/hop", get(hop))
        .with_state(HealthClient::new(channel));
    let http = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding the HTTP baseline")?;
    let http_addr = http.local_addr()?;
    tokio::spawn(async move { axum::serve(http, app).await });
    Ok(Baselines {
        http: format!("http://{http_addr}"),
    })
}

async fn hop(State(mut client): State<HealthClient<Channel>>) -> Result<String, String> {
    let answer = client
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|status| status.to_string())?;
    Ok(format!("{{\"status\":{}}}", answer.into_inner().status))
}
