//! gRPC server middleware: one span and one set of RED metrics per call.
//!
//! The span continues the caller's trace (W3C `traceparent` in the request metadata), so a
//! checkout that crosses the gateway, order, inventory and payment is one trace. Metrics follow
//! the OpenTelemetry RPC conventions: `rpc_server_requests_total{service,method,code}` and
//! `rpc_server_duration_seconds{service,method}`.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use tower::{Layer, Service};
use tracing::Instrument as _;

use crate::telemetry::{HeaderExtractor, continue_remote_trace, set_outcome};

/// Infrastructure RPCs that probes and tools call constantly; tracing them is noise.
const UNOBSERVED_PREFIXES: &[&str] = &["/grpc.health.v1.Health/", "/grpc.reflection."];

/// Wraps a gRPC router with per-call tracing and metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcObservabilityLayer;

impl<S> Layer<S> for GrpcObservabilityLayer {
    type Service = GrpcObservability<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcObservability { inner }
    }
}

/// The service produced by [`GrpcObservabilityLayer`].
#[derive(Debug, Clone)]
pub struct GrpcObservability<S> {
    inner: S,
}

impl<S, B, ResBody> Service<http::Request<B>> for GrpcObservability<S>
where
    S: Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone is not ready; swap it in so the instance polled ready serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);

        let path = request.uri().path();
        if UNOBSERVED_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
        {
            return Box::pin(inner.call(request));
        }
        let (service, method) = split_path(path);
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = format!("{service}/{method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            trace_id = tracing::field::Empty,
        );
        // Shared, so the two metrics below take them without copying the text again.
        let (service, method): (Arc<str>, Arc<str>) = (service.into(), method.into());
        continue_remote_trace(&span, &HeaderExtractor(request.headers()));

        let started = Instant::now();
        Box::pin(async move {
            let mut result = inner.call(request).instrument(span.clone()).await;
            if let Ok(response) = &mut result
                && let Some(replacement) = decode_failure_as_invalid_argument(response.headers())
            {
                *response = replacement.into_http();
            }
            let code = match &result {
                Ok(response) => status_of(response.headers()),
                Err(_) => tonic::Code::Unknown,
            };
            set_outcome(
                &span,
                "rpc.grpc.status_code",
                i64::from(code as i32),
                is_server_fault(code),
            );
            metrics::counter!(
                "rpc_server_requests_total",
                "service" => service.clone(),
                "method" => method.clone(),
                "code" => code_label(code),
            )
            .increment(1);
            metrics::histogram!(
                "rpc_server_duration_seconds",
                "service" => service,
                "method" => method,
            )
            .record(started.elapsed().as_secs_f64());
            result
        })
    }
}

/// The code as a label (its name, as `Debug` prints it), without formatting it per call.
fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "Ok",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// tonic reports a request it cannot decode (invalid UTF-8 in a string field, a truncated
/// message) as INTERNAL. It is the caller's mistake, not ours: report INVALID_ARGUMENT, naming
/// the field when the decoder did.
fn decode_failure_as_invalid_argument(headers: &http::HeaderMap) -> Option<tonic::Status> {
    let status = tonic::Status::from_header_map(headers)?;
    let message = status.message();
    if status.code() != tonic::Code::Internal
        || !message.starts_with("failed to decode Protobuf message")
    {
        return None;
    }
    // prost reports the path as `Message.field: ...: description`; the innermost one names it.
    let field = message
        .split(": ")
        .filter_map(|part| part.split_once('.').map(|(_, field)| field))
        .filter(|field| {
            !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .last()
        .unwrap_or("request");
    Some(crate::grpc_status::invalid_argument(
        &crate::validation::Violations::single(
            field,
            "could not be decoded (for example, text that is not valid UTF-8)",
        ),
    ))
}

/// `/shop.user.v1.UserService/Login` -> (`shop.user.v1.UserService`, `Login`).
fn split_path(path: &str) -> (&str, &str) {
    let trimmed = path.trim_start_matches('/');
    trimmed.split_once('/').unwrap_or((trimmed, ""))
}

/// The status of a unary call as far as the response head tells it. Errors are sent
/// "trailers-only", with `grpc-status` in the headers; a successful unary call puts its status
/// in the trailers, so a missing header here means OK.
fn status_of(headers: &http::HeaderMap) -> tonic::Code {
    headers
        .get("grpc-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32)
}

/// Codes that mean the server (not the caller) has a problem; these mark the span as an error.
pub fn is_server_fault(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::Unknown
            | tonic::Code::Internal
            | tonic::Code::Unavailable
            | tonic::Code::DataLoss
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Unimplemented
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grpc_path_splits_into_service_and_method() {
        assert_eq!(
            split_path("/shop.user.v1.UserService/Login"),
            ("shop.user.v1.UserService", "Login")
        );
        assert_eq!(split_path("/odd"), ("odd", ""));
    }

    #[test]
    fn a_request_that_cannot_be_decoded_is_reported_as_invalid_argument_naming_the_field() {
        let undecodable = tonic::Status::internal(
            "failed to decode Protobuf message: RegisterRequest.email: invalid string value: data is not UTF-8 encoded",
        );
        let replacement =
            decode_failure_as_invalid_argument(undecodable.into_http::<()>().headers()).unwrap();
        assert_eq!(replacement.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            crate::grpc_status::violations_of(&replacement),
            vec![(
                "email".to_owned(),
                "could not be decoded (for example, text that is not valid UTF-8)".to_owned()
            )]
        );

        let real = tonic::Status::internal("database down");
        assert!(decode_failure_as_invalid_argument(real.into_http::<()>().headers()).is_none());
    }

    #[test]
    fn every_code_is_labelled_with_its_name() {
        for number in 0..=16 {
            let code = tonic::Code::from_i32(number);
            assert_eq!(code_label(code), format!("{code:?}"));
        }
    }

    #[test]
    fn a_calls_span_carries_its_grpc_status_code_and_a_server_fault_marks_it_an_error() {
        use opentelemetry::trace::Status;
        use opentelemetry::{KeyValue, Value};
        use tower::ServiceExt as _;

        let answering = |status: &'static str| {
            tower::service_fn(move |_: http::Request<()>| async move {
                let mut response = http::Response::new(());
                response
                    .headers_mut()
                    .insert("grpc-status", http::HeaderValue::from_static(status));
                Ok::<_, std::convert::Infallible>(response)
            })
        };
        let spans = crate::telemetry::exported_spans(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            for status in ["5", "13"] {
                let request = http::Request::builder()
                    .uri("/shop.order.v1.OrderService/GetOrder")
                    .body(())
                    .unwrap();
                runtime
                    .block_on(
                        GrpcObservabilityLayer
                            .layer(answering(status))
                            .oneshot(request),
                    )
                    .unwrap();
            }
        });
        let span = |code: i64| {
            spans
                .iter()
                .find(|s| {
                    s.attributes
                        .contains(&KeyValue::new("rpc.grpc.status_code", Value::I64(code)))
                })
                .unwrap_or_else(|| panic!("no span with code {code}: {spans:?}"))
        };
        assert_eq!(span(5).name, "shop.order.v1.OrderService/GetOrder");
        assert_eq!(span(5).status, Status::Unset, "NOT_FOUND is the caller's");
        assert!(
            matches!(span(13).status, Status::Error { .. }),
            "INTERNAL is ours"
        );
    }

    #[test]
    fn a_missing_status_header_means_ok_and_a_present_one_is_read() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(status_of(&headers), tonic::Code::Ok);
        headers.insert("grpc-status", http::HeaderValue::from_static("5"));
        assert_eq!(status_of(&headers), tonic::Code::NotFound);
    }
}
