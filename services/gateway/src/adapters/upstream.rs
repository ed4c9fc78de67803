//! Calls to the backends, made resilient in one place: a deadline per call, a circuit breaker
//! per backend, and retries only for reads (which are idempotent), within a retry budget.
//!
//! - **Deadline.** Every call carries the route's deadline as its gRPC timeout, so the backend
//!   stops working on it when the gateway stops waiting.
//! - **Breaker** (failsafe): after `failures` consecutive infrastructure failures (UNAVAILABLE,
//!   DEADLINE_EXCEEDED, transport errors) of one backend, calls to it fail fast with 503 for
//!   `open_for`, then a trial call decides. Business answers (NOT_FOUND, INVALID_ARGUMENT...) are
//!   successes as far as the breaker is concerned.
//! - **Retries** only for reads, only on UNAVAILABLE, and only while the budget allows (a share
//!   of recent traffic), so retries cannot multiply an overload.

use std::sync::Arc;
use std::time::Duration;

use failsafe::futures::CircuitBreaker as _;
use shop_platform::grpc_client::{GrpcChannel, channel};
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_proto::order::v1::order_service_client::OrderServiceClient;
use shop_proto::user::v1::user_service_client::UserServiceClient;
use tonic::{Code, Status};
use tower::retry::budget::{Budget as _, TpsBudget};

use crate::config::{BreakerSettings, Settings};

type Breaker = failsafe::StateMachine<
    failsafe::failure_policy::ConsecutiveFailures<failsafe::backoff::Constant>,
    (),
>;

/// Whether a call is safe to repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Read,
    Write,
}

/// Why a backend call gave no usable answer.
#[derive(Debug)]
pub enum UpstreamError {
    /// The backend answered with an error status.
    Status(Status),
    /// The backend's breaker is open: it failed too often just now.
    BreakerOpen(&'static str),
}

/// One backend: its client, breaker and retry policy.
#[derive(Clone)]
pub struct Upstream<C> {
    name: &'static str,
    client: C,
    breaker: Breaker,
    budget: Arc<TpsBudget>,
    retries: usize,
}

impl<C> std::fmt::Debug for Upstream<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Infrastructure failures: what trips the breaker and what a read may be retried on.
fn is_infrastructure_failure(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::DeadlineExceeded | Code::Unknown
    )
}

impl<C: Clone> Upstream<C> {
    fn new(
        name: &'static str,
        client: C,
        breaker: &BreakerSettings,
        retries: usize,
        budget: Arc<TpsBudget>,
    ) -> Self {
        let breaker = failsafe::Config::new()
            .failure_policy(failsafe::failure_policy::consecutive_failures(
                breaker.failures,
                failsafe::backoff::constant(breaker.open_for),
            ))
            .build();
        Self {
            name,
            client,
            breaker,
            budget,
            retries,
        }
    }

    /// Makes one logical call: `f` builds and sends the request with the given client (use
    /// [`request`] for the message), bounded by `deadline`.
    pub(super) async fn call<T, F, Fut>(
        &self,
        kind: Call,
        deadline: Duration,
        f: F,
    ) -> Result<T, UpstreamError>
    where
        F: Fn(C) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        self.budget.deposit();
        let mut attempt = 0;
        loop {
            let call = async {
                tokio::time::timeout(deadline, f(self.client.clone()))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Status::deadline_exceeded(format!(
                            "{} did not answer in time",
                            self.name
                        )))
                    })
            };
            let outcome = self
                .breaker
                .call_with(is_infrastructure_failure, call)
                .await;
            let status = match outcome {
                Ok(response) => return Ok(response.into_inner()),
                Err(failsafe::Error::Rejected) => {
                    metrics::counter!("gateway_upstream_rejected_total", "upstream" => self.name)
                        .increment(1);
                    return Err(UpstreamError::BreakerOpen(self.name));
                }
                Err(failsafe::Error::Inner(status)) => status,
            };
            let retryable =
                kind == Call::Read && status.code() == Code::Unavailable && attempt < self.retries;
            if !retryable || !self.budget.withdraw() {
                return Err(UpstreamError::Status(status));
            }
            attempt += 1;
            metrics::counter!("gateway_upstream_retries_total", "upstream" => self.name)
                .increment(1);
            tokio::time::sleep(Duration::from_millis(25 * attempt as u64)).await;
        }
    }
}

/// A request with the route's deadline, and the caller's token when there is one (backends
/// verify it again: zero trust inside the mesh).
pub(super) fn request<T>(message: T, deadline: Duration, token: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline);
    if let Some(token) = token {
        shop_auth::grpc::forward(&mut request, token);
    }
    request
}

/// Every backend the gateway talks to.
#[derive(Debug, Clone)]
pub struct Upstreams {
    pub user: Upstream<UserServiceClient<GrpcChannel>>,
    pub inventory: Upstream<InventoryServiceClient<GrpcChannel>>,
    pub order: Upstream<OrderServiceClient<GrpcChannel>>,
    /// The user service's channel, which also serves the token verifier's key fetches.
    pub user_channel: GrpcChannel,
}

impl Upstreams {
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        // One budget across backends: retries may add at most this share of the traffic.
        let budget = Arc::new(TpsBudget::new(
            Duration::from_secs(10),
            10,
            settings.retry.budget_percent,
        ));
        let user_channel = channel(&settings.upstream.user)?;
        Ok(Self {
            user: Upstream::new(
                "user",
                UserServiceClient::new(user_channel.clone()),
                &settings.breaker,
                settings.retry.attempts,
                budget.clone(),
            ),
            inventory: Upstream::new(
                "inventory",
                InventoryServiceClient::new(channel(&settings.upstream.inventory)?),
                &settings.breaker,
                settings.retry.attempts,
                budget.clone(),
            ),
            order: Upstream::new(
                "order",
                OrderServiceClient::new(channel(&settings.upstream.order)?),
                &settings.breaker,
                settings.retry.attempts,
                budget,
            ),
            user_channel,
        })
    }
}
