//! HTTP server middleware: a request id on every request and response, one span per request
//! that continues the caller's trace, and RED metrics by route.
//!
//! Metrics follow the OpenTelemetry HTTP conventions: `http_server_requests_total{method,
//! route,status}` and `http_server_duration_seconds{method,route}`, where `route` is the route
//! template (`/api/v1/orders/{id}`), never the raw path, so ids do not explode cardinality.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderName;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument as _;

use crate::telemetry::{HeaderExtractor, continue_remote_trace};

/// The header that carries the request id (set when the client did not send one).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Adds request ids, tracing and metrics to `router`. Call it last, so it wraps every route.
pub fn observe<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(axum::middleware::from_fn(trace_and_measure))
        // Outermost: the id exists before the span is made and is echoed on every response.
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

async fn trace_and_measure(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!(
        "http.server",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
        request_id = %request_id,
        trace_id = tracing::field::Empty,
    );
    continue_remote_trace(&span, &HeaderExtractor(request.headers()));

    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    metrics::counter!(
        "http_server_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status.as_u16().to_string(),
    )
    .increment(1);
    metrics::histogram!("http_server_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
