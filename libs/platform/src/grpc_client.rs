//! Outgoing gRPC: one way to open a channel to a peer, with trace context on every call.

use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::propagation::Injector;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
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

/// A lazily connected channel to `uri` (`http://inventory:50052`): it connects on first use and
/// reconnects by itself, so a peer that starts later, or restarts, needs no restart here.
pub fn channel(uri: &str) -> anyhow::Result<GrpcChannel> {
    let endpoint = Endpoint::from_shared(uri.to_owned())
        .with_context(|| format!("invalid gRPC address {uri:?}"))?
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(10))
        .keep_alive_while_idle(true);
    Ok(InterceptedService::new(
        endpoint.connect_lazy(),
        TracePropagation,
    ))
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
