//! Rate limits in Redis, shared by every gateway replica: GCRA (the generic cell rate
//! algorithm), one atomic Lua script per check, with Redis's own clock so replicas agree.
//! Which budgets a request draws on is the middleware's business (`api::middleware::admit`).

use axum::http::{HeaderMap, HeaderValue};
use redis::aio::ConnectionManager;

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
    /// The budgets, and what to do while Redis is away.
    pub settings: RateLimitSettings,
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

/// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` for `decision`.
pub fn headers(decision: &Decision, headers: &mut HeaderMap) {
    headers.insert("ratelimit-limit", HeaderValue::from(decision.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(decision.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(decision.reset));
}
