//! Every error the API returns, and the one place where backend status codes become HTTP
//! responses. Bodies are RFC 9457 problem+json with a stable `type`; 5xx bodies never carry
//! internal text (the cause goes to the log, with the trace id).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use shop_auth::http::AuthRejection;
use shop_platform::grpc_status;
use shop_platform::problem::{FieldError, Problem};
use tonic::Code;

use crate::adapters::upstream::UpstreamError;

/// An error answer of the API.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the request cannot be read (bad JSON, a missing header).
    BadRequest(String),
    /// 422: the request was read but its values are not acceptable.
    Invalid(Vec<FieldError>),
    /// A backend's answer, mapped by [`from_status`].
    Upstream(UpstreamError),
    /// 413: the body is larger than the limit.
    TooLarge,
    /// 404 for a route that does not exist.
    NoRoute,
    /// A backend answered with something unusable (a missing field): 502.
    BadUpstreamAnswer(&'static str),
    /// 403 decided at the edge (a cookie request without its CSRF header).
    Forbidden(&'static str),
    /// 401: a browser asked to renew a session it does not have (no cookie).
    NoSession,
    /// 401/403/503: a token checked inside a handler (for a parameter only admins may use).
    Auth(AuthRejection),
}

impl From<UpstreamError> for ApiError {
    fn from(err: UpstreamError) -> Self {
        Self::Upstream(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Auth(rejection) => return rejection.into_response(),
            Self::BadRequest(detail) => {
                Problem::new(StatusCode::BAD_REQUEST, "bad-request", "Malformed request")
                    .with_detail(detail)
            }
            Self::Invalid(errors) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
            )
            .with_detail("some fields are not acceptable")
            .with_errors(errors),
            Self::TooLarge => {
                // The rest of the body is never read, so the connection cannot carry another
                // request: say so, and the client opens a new one instead of failing on it.
                let problem = Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    "Request body too large",
                );
                return ([(header::CONNECTION, "close")], problem).into_response();
            }
            Self::NoRoute => Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found")
                .with_detail("no such route"),
            Self::Forbidden(detail) => {
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed").with_detail(detail)
            }
            Self::NoSession => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            )
            .with_detail("no session to renew: sign in"),
            Self::BadUpstreamAnswer(what) => {
                tracing::error!(what, "a backend answered without a required field");
                Problem::new(
                    StatusCode::BAD_GATEWAY,
                    "upstream-error",
                    "Something went wrong on our side",
                )
            }
            Self::Upstream(UpstreamError::BreakerOpen(upstream)) => {
                tracing::warn!(upstream, "failing fast: breaker open");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service temporarily unavailable",
                )
                .with_detail("please retry shortly")
                // The breaker's first open lasts a fraction of a second (config.rs
                // `BreakerSettings`): a refused call is cheap, so ask for the soonest retry.
                .with_retry_after(1)
            }
            Self::Upstream(UpstreamError::Status(status)) => from_status(&status),
        }
        .into_response()
    }
}

/// Backend status -> HTTP. The table of the design, in code.
pub fn from_status(status: &tonic::Status) -> Problem {
    let reason = grpc_status::reason_of(status);
    match (status.code(), reason.as_deref()) {
        (Code::InvalidArgument, _) => {
            let errors: Vec<FieldError> = grpc_status::violations_of(status)
                .into_iter()
                .map(|(field, message)| FieldError { field, message })
                .collect();
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
            )
            .with_detail("some fields are not acceptable")
            .with_errors(errors)
        }
        (Code::NotFound, _) => Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found"),
        (Code::AlreadyExists, _) => {
            Problem::new(StatusCode::CONFLICT, "conflict", "Already exists")
                .with_detail(status.message().to_owned())
        }
        (Code::FailedPrecondition, Some("IDEMPOTENCY_KEY_REUSED")) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency key reused",
        )
        .with_detail("this Idempotency-Key was used for a different request"),
        (Code::Aborted, Some("IDEMPOTENCY_KEY_IN_FLIGHT")) => Problem::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-flight",
            "Request still in progress",
        )
        .with_detail("the first request with this Idempotency-Key is still running; retry shortly")
        .with_retry_after(1),
        (Code::FailedPrecondition, Some("ORDER_ALREADY_SHIPPED")) => Problem::new(
            StatusCode::CONFLICT,
            "order-already-shipped",
            "The order has been shipped",
        )
        .with_detail(status.message().to_owned()),
        (Code::FailedPrecondition, Some("PRICE_CHANGED")) => {
            Problem::new(StatusCode::CONFLICT, "price-changed", "The price changed")
                .with_detail(status.message().to_owned())
        }
        (Code::FailedPrecondition, Some("CART_NOT_ORDERABLE")) => Problem::new(
            StatusCode::CONFLICT,
            "cart-not-orderable",
            "The cart cannot be ordered as it is",
        )
        .with_detail(status.message().to_owned()),
        (Code::FailedPrecondition, _) => {
            Problem::new(StatusCode::CONFLICT, "conflict", "Not possible now")
                .with_detail(status.message().to_owned())
        }
        (Code::Unauthenticated, _) => Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Authentication required",
        )
        .with_detail(status.message().to_owned()),
        (Code::PermissionDenied, _) => {
            Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed")
        }
        (Code::ResourceExhausted, _) => {
            let retry = grpc_status::metadata_of(status, "retry_after_seconds")
                .and_then(|s| s.parse().ok())
                .unwrap_or(1);
            Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            )
            .with_detail(status.message().to_owned())
            .with_retry_after(retry)
        }
        (Code::Unavailable, _) => {
            tracing::warn!(message = status.message(), "backend unavailable");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service temporarily unavailable",
            )
            .with_detail("please retry shortly")
            .with_retry_after(1)
        }
        (Code::DeadlineExceeded, _) => {
            tracing::warn!(message = status.message(), "backend deadline exceeded");
            Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "The shop took too long to answer",
            )
        }
        (code, _) => {
            tracing::error!(?code, message = status.message(), "backend failed");
            Problem::new(
                StatusCode::BAD_GATEWAY,
                "upstream-error",
                "Something went wrong on our side",
            )
        }
    }
}
