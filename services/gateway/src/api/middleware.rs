//! The middleware every API request goes through, [`admit`]: identification (who is calling,
//! from the bearer token, verified once for the whole request), then rate limiting (which
//! budgets the request draws on). One middleware, not two: each is a layer every route's
//! request passes through, and axum's `from_fn` boxes the service and the future of each.
//!
//! Anonymous requests are limited per client IP, signed-in requests per user, and login,
//! registration and refresh per IP again with a much smaller budget. Responses carry
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; a refusal is 429 with
//! `Retry-After`. When Redis is unreachable the limiter fails open by default (the shop keeps
//! selling, the limit is off for the outage, and `gateway_rate_limit_errors_total` says so);
//! `fail_open = false` refuses with 503 instead.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use shop_auth::Caller;
use shop_platform::problem::Problem;

use super::state::AppState;
use crate::adapters::rate_limit::{Decision, headers};

/// Identification, then rate limiting.
pub async fn admit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    identify(&state, &mut request).await;
    limit(&state, request, next).await
}

/// Identification: a request with a valid person's bearer token carries its [`Caller`] from
/// here on, which the rate limiter and the handlers' extractors (`AuthUser`, `AdminUser`) use
/// instead of verifying the token again. A request without one, or with one that is not valid,
/// carries nothing; the extractors then refuse it with the right status.
async fn identify(state: &AppState, request: &mut Request) {
    if request.uri().path().starts_with("/api/")
        && let Ok(Some(token)) = shop_auth::grpc::bearer_token(request.headers())
        && let Ok(caller) = state.verifier.verify_user(token).await
    {
        request.extensions_mut().insert(caller);
    }
}

/// The client's address: the first `X-Forwarded-For` hop when the gateway sits behind a
/// trusted proxy (the Istio ingress), else the TCP peer.
fn client_ip(headers: &HeaderMap, extensions: &Extensions, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
    {
        return first.trim().to_owned();
    }
    extensions.get::<ConnectInfo<SocketAddr>>().map_or_else(
        || "unknown".to_owned(),
        |ConnectInfo(addr)| addr.ip().to_string(),
    )
}

/// The client's address as the edge sees it (see [`client_ip`]), for the handlers that pass it
/// on (sign-in counts failures per email and client). An extractor, so only they pay for it.
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let trust_forwarded_for = state
            .limiter
            .as_ref()
            .is_some_and(|limiter| limiter.settings.trust_forwarded_for);
        Ok(Self(client_ip(
            &parts.headers,
            &parts.extensions,
            trust_forwarded_for,
        )))
    }
}

/// Rate limiting: checks the budgets the request draws on, and answers 429 when one is spent.
async fn limit(state: &AppState, request: Request, next: Next) -> Response {
    let Some(limiter) = state.limiter.as_ref() else {
        return next.run(request).await;
    };
    // The API is what costs; the storefront's files and the docs are not limited here.
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let settings = &limiter.settings;
    let ip = client_ip(
        request.headers(),
        request.extensions(),
        settings.trust_forwarded_for,
    );

    let mut checks = Vec::with_capacity(2);
    let path = request.uri().path();
    if [
        "/api/v1/auth/login",
        "/api/v1/auth/register",
        "/api/v1/auth/refresh",
    ]
    .contains(&path)
    {
        checks.push((format!("auth:{ip}"), settings.auth));
    }
    match request.extensions().get::<Caller>() {
        Some(caller) => checks.push((format!("user:{}", caller.user_id()), settings.user)),
        None => checks.push((format!("ip:{ip}"), settings.anonymous)),
    }

    let mut tightest: Option<Decision> = None;
    for (key, policy) in checks {
        match limiter.check(&key, policy).await {
            Ok(decision) if !decision.allowed => {
                metrics::counter!("gateway_rate_limited_total", "bucket" => key.split(':').next().unwrap_or("").to_owned())
                    .increment(1);
                let mut response = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                )
                .with_detail("slow down and retry later")
                .with_retry_after(decision.retry_after)
                .into_response();
                headers(&decision, response.headers_mut());
                return response;
            }
            Ok(decision) => {
                if tightest.is_none_or(|t| decision.remaining < t.remaining) {
                    tightest = Some(decision);
                }
            }
            Err(err) => {
                metrics::counter!("gateway_rate_limit_errors_total").increment(1);
                tracing::warn!(error = %err, fail_open = settings.fail_open, "rate limiter unavailable");
                if !settings.fail_open {
                    return Problem::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "Service temporarily unavailable",
                    )
                    .with_retry_after(1)
                    .into_response();
                }
            }
        }
    }
    let mut response = next.run(request).await;
    if let Some(decision) = tightest {
        headers(&decision, response.headers_mut());
    }
    response
}
