//! HTTP server middleware: a request id on every request and response, one span per request
//! that continues the caller's trace, and RED metrics by route.
//!
//! Metrics follow the OpenTelemetry HTTP conventions: `http_server_requests_total{method,
//! route,status}` and `http_server_duration_seconds{method,route}`, where `route` is the route
//! template (`/api/v1/orders/{id}`), never the raw path, so ids do not explode cardinality.
//!
//! It is one tower layer with a future of its own rather than a stack of tower-http's request
//! id layers and an axum `from_fn`: a request moves through every layer's future, and `from_fn`
//! boxes the service and the future on each request. On a cached read the middleware is most
//! of what the gateway does (docs/performance.md).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::Router;
use axum::extract::MatchedPath;
use axum::response::Response;
use http::{HeaderName, HeaderValue, Request};
use tower::{Layer, Service};
use tracing::Instrument as _;
use tracing::instrument::Instrumented;

use crate::telemetry::{HeaderExtractor, continue_remote_trace, set_outcome};

/// The header that carries the request id (set when the client did not send one).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Adds request ids, tracing and metrics to `router`. Call it last, so it wraps every route.
pub fn observe<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(ObserveLayer)
}

/// The layer [`observe`] adds: the request's id (the caller's `x-request-id`, else a new
/// UUID, echoed on the response), its span and its metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner }
    }
}

/// The service of [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Observe<S>
where
    S: Service<Request<B>, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let request_id = match request.headers().get(&REQUEST_ID) {
            Some(id) => id.clone(),
            None => {
                let id = new_request_id();
                request.headers_mut().insert(REQUEST_ID, id.clone());
                id
            }
        };
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
            request_id = request_id.to_str().unwrap_or_default(),
            trace_id = tracing::field::Empty,
        );
        continue_remote_trace(&span, &HeaderExtractor(request.headers()));

        let started = Instant::now();
        let inner = span.in_scope(|| self.inner.call(request));
        ObserveFuture {
            inner: inner.instrument(span),
            done: Some(Done {
                request_id,
                method,
                route,
                started,
            }),
        }
    }
}

/// A new request id: a random UUID, as tower-http's `MakeRequestUuid` makes them.
fn new_request_id() -> HeaderValue {
    let mut buffer = uuid::Uuid::encode_buffer();
    let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
    // Hex digits and hyphens: always a valid header value.
    HeaderValue::from_str(id).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

pin_project_lite::pin_project! {
    /// The response future of [`Observe`]: the inner future inside the request's span, then
    /// the outcome on the span, the metrics and the request id on the response.
    #[derive(Debug)]
    pub struct ObserveFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        done: Option<Done>,
    }
}

/// What the future needs once the response is there.
#[derive(Debug)]
struct Done {
    request_id: HeaderValue,
    method: &'static str,
    route: String,
    started: Instant,
}

impl<F, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let mut response = ready!(this.inner.as_mut().poll(cx))?;
        let Some(done) = this.done.take() else {
            return Poll::Ready(Ok(response));
        };
        let status = response.status();
        set_outcome(
            this.inner.span(),
            "http.response.status_code",
            i64::from(status.as_u16()),
            status.is_server_error(),
        );
        metrics::counter!(
            "http_server_requests_total",
            "method" => done.method,
            "route" => done.route.clone(),
            "status" => status_label(status),
        )
        .increment(1);
        metrics::histogram!(
            "http_server_duration_seconds",
            "method" => done.method,
            "route" => done.route,
        )
        .record(done.started.elapsed().as_secs_f64());
        // A response that names its own id (a proxied one) keeps it.
        response
            .headers_mut()
            .entry(REQUEST_ID)
            .or_insert(done.request_id);
        Poll::Ready(Ok(response))
    }
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

    #[tokio::test]
    async fn the_request_id_the_handler_sees_is_the_one_the_response_carries() {
        use tower::ServiceExt as _;

        let app = observe(
            Router::new()
                .route(
                    "/echo",
                    axum::routing::get(|headers: http::HeaderMap| async move {
                        headers
                            .get(&REQUEST_ID)
                            .and_then(|id| id.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    }),
                )
                .route(
                    "/own",
                    axum::routing::get(|| async { ([(REQUEST_ID, "the-handler's")], "") }),
                ),
        );
        let call = |uri: &str, id: Option<&str>| {
            let mut request = Request::builder().uri(uri);
            if let Some(id) = id {
                request = request.header(&REQUEST_ID, id);
            }
            app.clone()
                .oneshot(request.body(axum::body::Body::empty()).unwrap())
        };
        let id_of =
            |response: &Response| response.headers()[&REQUEST_ID].to_str().unwrap().to_owned();
        let body = |response: Response| async {
            let bytes = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap();
            String::from_utf8(bytes.to_vec()).unwrap()
        };

        let made = call("/echo", None).await.unwrap();
        let made_id = id_of(&made);
        assert!(uuid::Uuid::parse_str(&made_id).is_ok(), "{made_id}");
        assert_eq!(body(made).await, made_id, "the handler saw another id");
        let other = call("/echo", None).await.unwrap();
        assert_ne!(id_of(&other), made_id, "every request gets its own");

        let given = call("/echo", Some("trace-me-123")).await.unwrap();
        assert_eq!(id_of(&given), "trace-me-123");
        assert_eq!(body(given).await, "trace-me-123");

        let own = call("/own", Some("the-caller's")).await.unwrap();
        assert_eq!(id_of(&own), "the-handler's");
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
                let request = axum::extract::Request::builder()
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
