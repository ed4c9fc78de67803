//! Outgoing gRPC: one way to open a channel to a peer, balanced over the addresses its name
//! resolves to, with trace context on every call.

use std::collections::BTreeSet;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::Context as _;
use futures::future::BoxFuture;
use opentelemetry::propagation::Injector;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// A channel to a peer that carries the caller's trace context (W3C `traceparent`).
pub type GrpcChannel = InterceptedService<Channel, TracePropagation>;

/// Adds the current span's trace context to every outgoing call's metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracePropagation;

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(key, value);
        }
    }
}

impl Interceptor for TracePropagation {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let context = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&context, &mut MetadataInjector(request.metadata_mut()));
        });
        Ok(request)
    }
}

/// How often a channel to a named peer looks the name up again.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(30);

/// A channel to the peer at `uri` (`http://inventory:50052`). It connects on first use and
/// reconnects by itself, so a peer that starts later, or restarts, needs no restart here.
///
/// When the host is a name, the channel balances calls over every address the name resolves
/// to, and looks it up again every [`RESOLVE_EVERY`]: a headless Kubernetes Service or
/// `docker compose up --scale` is all the discovery there is, and a new replica gets traffic
/// without a restart of its callers. An address literal is one connection, nothing to resolve.
///
/// Balancing is power-of-two-choices on pending requests. An address that still resolves but
/// no longer answers fails the calls sent to it until a lookup drops it (the gateway retries
/// reads; a mesh's outlier detection ejects it sooner).
pub fn channel(uri: &str) -> anyhow::Result<GrpcChannel> {
    balanced_channel(uri, Dns, RESOLVE_EVERY)
}

/// [`channel`] with the name lookup and its interval chosen by the caller (tests use a resolver
/// of their own to move a peer between addresses).
pub fn balanced_channel(
    uri: &str,
    resolver: impl Resolve,
    every: Duration,
) -> anyhow::Result<GrpcChannel> {
    let endpoint = endpoint(uri)?;
    let target = endpoint.uri().clone();
    let host = target
        .host()
        .with_context(|| format!("gRPC address {uri:?} has no host"))?
        // `[::1]` in a URI is `::1` as an address.
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.parse::<IpAddr>().is_ok() {
        return Ok(InterceptedService::new(
            endpoint.connect_lazy(),
            TracePropagation,
        ));
    }
    let default_port = if target.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let port = target.port_u16().unwrap_or(default_port);
    let runtime = tokio::runtime::Handle::try_current()
        .context("a channel to a named peer needs a Tokio runtime to follow its addresses")?;
    let (balanced, changes) = Channel::balance_channel(CHANGE_CAPACITY);
    runtime.spawn(follow_addresses(
        Peer {
            host,
            port,
            name: target,
        },
        resolver,
        every,
        changes,
    ));
    Ok(InterceptedService::new(balanced, TracePropagation))
}

/// Room for address changes in flight between the resolver task and the balancer.
const CHANGE_CAPACITY: usize = 64;

/// An endpoint for `uri` with the connection settings every channel shares.
fn endpoint(uri: &str) -> anyhow::Result<Endpoint> {
    let endpoint = Endpoint::from_shared(uri.to_owned())
        .with_context(|| format!("invalid gRPC address {uri:?}"))?;
    Ok(with_connection_settings(endpoint))
}

fn with_connection_settings(endpoint: Endpoint) -> Endpoint {
    endpoint
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true)
}

/// Looks up the addresses a peer's name stands for.
pub trait Resolve: Send + Sync + 'static {
    fn resolve(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>>;
}

/// The system's resolver (Kubernetes and compose DNS in a deployment, `/etc/hosts` locally).
#[derive(Debug, Clone, Copy, Default)]
pub struct Dns;

impl Resolve for Dns {
    fn resolve(&self, host: &str, port: u16) -> BoxFuture<'static, io::Result<Vec<SocketAddr>>> {
        let target = (host.to_owned(), port);
        Box::pin(async move { Ok(tokio::net::lookup_host(target).await?.collect()) })
    }
}

/// A peer known by name: `name` is its URI as configured.
struct Peer {
    host: String,
    port: u16,
    name: http::Uri,
}

impl Peer {
    /// A connection to one of the peer's addresses that still presents itself to the peer (and
    /// to a mesh proxy, which routes by it) under the peer's name.
    fn endpoint_at(&self, address: SocketAddr) -> anyhow::Result<Endpoint> {
        let scheme = self.name.scheme_str().unwrap_or("http");
        let uri: http::Uri = format!("{scheme}://{address}").parse()?;
        Ok(with_connection_settings(Endpoint::from(uri)).origin(self.name.clone()))
    }
}

/// Keeps the balancer's set of addresses equal to what the peer's name resolves to, until the
/// channel is dropped. A failed or empty lookup keeps the addresses last seen: a DNS hiccup
/// must not take a healthy peer away.
async fn follow_addresses(
    peer: Peer,
    resolver: impl Resolve,
    every: Duration,
    changes: mpsc::Sender<Change<SocketAddr, Endpoint>>,
) {
    let mut current = BTreeSet::new();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = changes.closed() => return,
        }
        let found: BTreeSet<SocketAddr> = match resolver.resolve(&peer.host, peer.port).await {
            Ok(found) if !found.is_empty() => found.into_iter().collect(),
            Ok(_) => {
                tracing::warn!(peer = %peer.host, "the peer's name resolved to no address; keeping the last known ones");
                continue;
            }
            Err(err) => {
                tracing::warn!(peer = %peer.host, error = %err, "could not resolve the peer's name; keeping the last known addresses");
                continue;
            }
        };
        if found == current {
            continue;
        }
        for gone in current.difference(&found) {
            if changes.send(Change::Remove(*gone)).await.is_err() {
                return;
            }
        }
        for new in found.difference(&current) {
            let endpoint = match peer.endpoint_at(*new) {
                Ok(endpoint) => endpoint,
                Err(err) => {
                    tracing::warn!(peer = %peer.host, address = %new, error = %err, "skipping an address that makes no URI");
                    continue;
                }
            };
            if changes.send(Change::Insert(*new, endpoint)).await.is_err() {
                return;
            }
        }
        tracing::info!(peer = %peer.host, addresses = ?found, "the peer's addresses changed");
        metrics::gauge!("grpc_client_peer_addresses", "peer" => peer.host.clone())
            .set(found.len() as f64);
        current = found;
    }
}

/// Checks an upstream address setting; `key` is its path (e.g. `["upstream", "user"]`).
pub fn validate_uri(uri: &str, key: &[&str]) -> Result<(), crate::config::ConfigError> {
    let valid = (uri.starts_with("http://") || uri.starts_with("https://"))
        && uri.parse::<http::Uri>().is_ok();
    if valid {
        Ok(())
    } else {
        Err(crate::config::ConfigError::new(
            key,
            "must be an http:// or https:// address",
        ))
    }
}
