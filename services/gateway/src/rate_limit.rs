//! Rate limits in Redis, shared by every gateway replica: GCRA (the generic cell rate
//! algorithm), one atomic Lua script per check, with Redis's own clock so replicas agree.
//!
//! Anonymous requests are limited per client IP, signed-in requests per user, and login,
//! registration and refresh per IP again with a much smaller budget. Responses carry
//! `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`; a refusal is 429 with
//! `Retry-After`. When Redis is unreachable the limiter fails open by default (the shop keeps
//! selling, the limit is off for the outage, and `gateway_rate_limit_errors_total` says so);
//! `fail_open = false` refuses with 503 instead.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use redis::aio::ConnectionManager;
use shop_platform::problem::Problem;

use crate::api::state::AppState;
use crate::config::{RateLimitSettings, RatePolicy};

/// GCRA: KEYS[1] is the bucket, ARGV[1] the emission interval (ms per request), ARGV[2] the
/// burst. Returns {allowed, retry_after_ms, remaining, reset_ms}.
const GCRA: &str = r"
local emission = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission
local allow_at = new_tat - emission * burst
if now < allow_at then
  return {0, allow_at - now, 0, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now)
return {1, 0, math.floor((now - allow_at) / emission), new_tat - now}
";

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u64,
    /// Seconds until a refused request may succeed.
    pub retry_after: u64,
    /// Seconds until the bucket is full again.
    pub reset: u64,
}

#[derive(Clone)]
pub struct RateLimiter {
    redis: ConnectionManager,
    script: redis::Script,
    prefix: String,
    settings: RateLimitSettings,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn ceil_secs(ms: i64) -> u64 {
    u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000)
}

impl RateLimiter {
    pub fn new(redis: ConnectionManager, prefix: &str, settings: RateLimitSettings) -> Self {
        Self {
            redis,
            script: redis::Script::new(GCRA),
            prefix: format!("{prefix}ratelimit:"),
            settings,
        }
    }

    /// Takes one request from `key`'s budget under `policy`.
    pub async fn check(
        &self,
        key: &str,
        policy: RatePolicy,
    ) -> Result<Decision, redis::RedisError> {
        let emission = (60_000 / u64::from(policy.per_minute.max(1))).max(1);
        let mut redis = self.redis.clone();
        let (allowed, retry_after_ms, remaining, reset_ms): (i64, i64, i64, i64) = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(emission)
            .arg(policy.burst.max(1))
            .invoke_async(&mut redis)
            .await?;
        Ok(Decision {
            allowed: allowed == 1,
            limit: policy.burst,
            remaining: u64::try_from(remaining.max(0)).unwrap_or(0),
            retry_after: ceil_secs(retry_after_ms).max(u64::from(allowed == 0)),
            reset: ceil_secs(reset_ms),
        })
    }
}

fn headers(decision: &Decision, headers: &mut HeaderMap) {
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(decision.reset));
}

/// The client's address: the first `X-Forwarded-For` hop when the gateway sits behind a
/// trusted proxy (the Istio ingress), else the TCP peer.
fn client_ip(request: &Request, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(first) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
    {
        return first.trim().to_owned();
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(
            || "unknown".to_owned(),
            |ConnectInfo(addr)| addr.ip().to_string(),
        )
}

/// The middleware: identifies the caller (verifying a bearer token once, for the handlers
/// too), checks the applicable budgets, and answers 429 when one is spent.
pub async fn limit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let Some(limiter) = state.limiter.clone() else {
        return next.run(request).await;
    };
    // The API is what costs; the storefront's files and the docs are not limited here.
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let settings = &limiter.settings;
    let ip = client_ip(&request, settings.trust_forwarded_for);

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
    let token = shop_auth::grpc::bearer_token(request.headers())
        .ok()
        .flatten()
        .map(str::to_owned);
    let caller = match token {
        Some(token) => state.verifier.verify_user(&token).await.ok(),
        None => None,
    };
    match &caller {
        Some(caller) => checks.push((format!("user:{}", caller.user_id()), settings.user)),
        None => checks.push((format!("ip:{ip}"), settings.anonymous)),
    }
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
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
