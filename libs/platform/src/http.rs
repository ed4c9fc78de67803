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
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument as _;

use crate::telemetry::{HeaderExtractor, continue_remote_trace, set_outcome};

/// The header that carries the request id (set when the client did not send one).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Adds request ids, tracing and metrics to `router`. Call it last, so it wraps every route.
pub fn observe<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    // One stack, added as one layer: axum boxes every route once per `Router::layer` call and
    // clones those boxes for each request.
    router.layer(
        ServiceBuilder::new()
            // Outermost: the id exists before the span is made and is echoed on every response.
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(axum::middleware::from_fn(trace_and_measure)),
    )
}

async fn trace_and_measure(request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let span = tracing::info_span!(
        "http.server",
        otel.name = format_args!("{method} {route}").to_string(),
        otel.kind = "server",
        http.request.method = method,
        http.route = %route,
        request_id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
        trace_id = tracing::field::Empty,
    );
    continue_remote_trace(&span, &HeaderExtractor(request.headers()));

    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status();
    set_outcome(
        &span,
        "http.response.status_code",
        i64::from(status.as_u16()),
        status.is_server_error(),
    );
    metrics::counter!(
        "http_server_requests_total",
        "method" => method,
        "route" => route.clone(),
        "status" => status_label(status),
    )
    .increment(1);
    metrics::histogram!("http_server_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label: one of the standard methods, else `_OTHER` (the OpenTelemetry
/// convention, which also keeps made-up methods from growing the metrics without bound).
fn method_label(method: &http::Method) -> &'static str {
    match *method {
        http::Method::GET => "GET",
        http::Method::HEAD => "HEAD",
        http::Method::POST => "POST",
        http::Method::PUT => "PUT",
        http::Method::PATCH => "PATCH",
        http::Method::DELETE => "DELETE",
        http::Method::OPTIONS => "OPTIONS",
        http::Method::TRACE => "TRACE",
        http::Method::CONNECT => "CONNECT",
        _ => "_OTHER",
    }
}

/// The status code as a label, without formatting the common ones anew on every request.
fn status_label(status: http::StatusCode) -> metrics::SharedString {
    match status.as_u16() {
        200 => "200".into(),
        201 => "201".into(),
        202 => "202".into(),
        204 => "204".into(),
        304 => "304".into(),
        400 => "400".into(),
        401 => "401".into(),
        403 => "403".into(),
        404 => "404".into(),
        409 => "409".into(),
        422 => "422".into(),
        429 => "429".into(),
        other => other.to_string().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_is_labelled_with_its_code() {
        for code in 100..=599 {
            let status = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::OK);
            assert_eq!(
                status_label(status).as_ref(),
                status.as_u16().to_string(),
                "{status}"
            );
        }
    }

    #[test]
    fn standard_methods_are_labelled_by_name_and_others_alike() {
        for method in [http::Method::GET, http::Method::POST, http::Method::DELETE] {
            assert_eq!(method_label(&method), method.as_str());
        }
        let made_up = http::Method::from_bytes(b"BREW").unwrap_or(http::Method::GET);
        assert_eq!(method_label(&made_up), "_OTHER");
    }

    #[test]
    fn a_requests_span_is_named_by_its_route_and_carries_its_status_code() {
        use opentelemetry::trace::Status;
        use opentelemetry::{KeyValue, Value};
        use tower::ServiceExt as _;

        let spans = crate::telemetry::exported_spans(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let app = observe(
                Router::new()
                    .route(
                        "/orders/{id}",
                        axum::routing::get(|| async { http::StatusCode::NOT_FOUND }),
                    )
                    .route(
                        "/down",
                        axum::routing::get(|| async { http::StatusCode::SERVICE_UNAVAILABLE }),
                    ),
            );
            for uri in ["/orders/7", "/down"] {
                let request = Request::builder()
                    .uri(uri)
                    .body(axum::body::Body::empty())
                    .unwrap();
                runtime.block_on(app.clone().oneshot(request)).unwrap();
            }
        });
        let span = |name: &str| {
            spans
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no span {name}: {spans:?}"))
        };
        let not_found = span("GET /orders/{id}");
        assert!(
            not_found
                .attributes
                .contains(&KeyValue::new("http.response.status_code", Value::I64(404)))
        );
        assert_eq!(not_found.status, Status::Unset, "a 404 is the client's");
        let down = span("GET /down");
        assert!(
            down.attributes
                .contains(&KeyValue::new("http.response.status_code", Value::I64(503)))
        );
        assert!(matches!(down.status, Status::Error { .. }));
    }
}
