//! Calls to the backends, made resilient in one place: a deadline per call, a circuit breaker
//! per backend, and retries only for reads (which are idempotent), within a retry budget.
//!
//! - **Deadline.** Every call carries the route's deadline as its gRPC timeout, so the backend
//!   stops working on it when the gateway stops waiting.
//! - **Breaker** (failsafe): after `failures` consecutive infrastructure failures (UNAVAILABLE,
//!   DEADLINE_EXCEEDED, transport errors) of one backend, calls to it fail fast with 503 for
//!   `open_for`, then one call at a time is let through to try it ([`Gate`]). A failed trial
//!   opens it again for twice as long, jittered, up to `open_at_most` ([`OpenFor`]); a success
//!   closes it and the next outage starts short again. Business answers (NOT_FOUND,
//!   INVALID_ARGUMENT...) are successes as far as the breaker is concerned.
//! - **Retries** only for reads, only on UNAVAILABLE, and only while the budget allows (a share
//!   of recent traffic), so retries cannot multiply an overload.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBackoff, ExponentialBuilder};
use failsafe::futures::CircuitBreaker as _;
use shop_platform::grpc_client::{GrpcChannel, channel};
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_proto::order::v1::order_service_client::OrderServiceClient;
use shop_proto::user::v1::user_service_client::UserServiceClient;
use tonic::{Code, Status};
use tower::retry::budget::{Budget as _, TpsBudget};

use crate::config::{BreakerSettings, Settings};

type Breaker = failsafe::StateMachine<failsafe::failure_policy::ConsecutiveFailures<OpenFor>, Gate>;

/// Lets one call at a time through a breaker that is not closed.
///
/// failsafe's half-open state lets every call through until one of them fails, so the moment a
/// backend's open time ends, every request waiting on it goes to the backend at once: a burst
/// against a backend that may still be hung, each call holding a connection until its deadline.
/// The gate, told of failsafe's state changes through its instrument hooks, gives a breaker that
/// is open or half open a single trial: the call holding it goes on to failsafe (which still
/// refuses it while the open time runs), every other call is refused at once as if the breaker
/// were open. The trial ends with its call, however the call ends (a dropped request too).
/// While the breaker is closed the gate costs one atomic load per call.
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<GateState>);

#[derive(Debug, Default)]
struct GateState {
    /// The breaker is open or half open: a call needs the trial.
    not_closed: AtomicBool,
    /// A call holds the trial.
    trial_taken: AtomicBool,
}

/// The gate's answer to a call while the breaker is not closed and another call is trying
/// the backend.
#[derive(Debug)]
struct Refused;

/// The one trial of a breaker that is not closed; dropping it lets the next call try.
#[derive(Debug)]
struct Trial<'a>(&'a GateState);

impl Drop for Trial<'_> {
    fn drop(&mut self) {
        self.0.trial_taken.store(false, Ordering::Release);
    }
}

impl Gate {
    /// `None` while the breaker is closed (go ahead); the trial, held until the call ends,
    /// while it is not.
    fn admit(&self) -> Result<Option<Trial<'_>>, Refused> {
        if !self.0.not_closed.load(Ordering::Acquire) {
            return Ok(None);
        }
        self.0
            .trial_taken
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| Some(Trial(&self.0)))
            .map_err(|_| Refused)
    }
}

impl failsafe::Instrument for Gate {
    fn on_call_rejected(&self) {}

    fn on_open(&self) {
        self.0.not_closed.store(true, Ordering::Release);
    }

    fn on_half_open(&self) {}

    fn on_closed(&self) {
        self.0.not_closed.store(false, Ordering::Release);
    }
}

/// How long the breaker stays open each time in a row: backon's exponential schedule from
/// `open_for` to `open_at_most`, each delay jittered by up to as much again, so that gateways
/// which saw the same outage do not all try the backend at the same instant.
///
/// A constant open time makes every outage cost at least that long: a backend restarted in a
/// second stayed refused for the rest of a 10 s window. A schedule that starts short finds a
/// quick restart quickly and still backs off from a backend that stays down.
///
/// failsafe restarts the schedule by cloning the fresh one it was given when the backend
/// revives; backon's iterator is not `Clone`, so a clone here is a new schedule from the
/// start (the only clone failsafe makes is of the fresh one, so nothing is lost).
#[derive(Debug)]
pub struct OpenFor {
    builder: ExponentialBuilder,
    delays: ExponentialBackoff,
}

impl OpenFor {
    fn new(settings: &BreakerSettings) -> Self {
        Self::from_builder(
            ExponentialBuilder::default()
                .with_min_delay(settings.open_for)
                .with_max_delay(settings.open_at_most)
                .with_jitter()
                .without_max_times(),
        )
    }

    fn from_builder(builder: ExponentialBuilder) -> Self {
        Self {
            builder,
            delays: builder.build(),
        }
    }
}

impl Clone for OpenFor {
    fn clone(&self) -> Self {
        Self::from_builder(self.builder)
    }
}

impl Iterator for OpenFor {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.delays.next()
    }
}

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
    gate: Gate,
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
        let gate = Gate::default();
        let breaker = failsafe::Config::new()
            .failure_policy(failsafe::failure_policy::consecutive_failures(
                breaker.failures,
                OpenFor::new(breaker),
            ))
            .instrument(gate.clone())
            .build();
        Self {
            name,
            client,
            breaker,
            gate,
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
            let outcome = match self.gate.admit() {
                Err(Refused) => Err(failsafe::Error::Rejected),
                Ok(trial) => {
                    let outcome = self
                        .breaker
                        .call_with(is_infrastructure_failure, call)
                        .await;
                    drop(trial);
                    outcome
                }
            };
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

#[cfg(test)]
mod tests {
    use failsafe::failure_policy::{FailurePolicy as _, consecutive_failures};

    use super::*;

    fn settings(open_for_ms: u64, open_at_most_ms: u64) -> BreakerSettings {
        BreakerSettings {
            failures: 1,
            open_for: Duration::from_millis(open_for_ms),
            open_at_most: Duration::from_millis(open_at_most_ms),
        }
    }

    #[test]
    fn the_open_time_starts_short_doubles_while_the_backend_stays_down_and_stops_at_the_cap() {
        let delays: Vec<Duration> = OpenFor::new(&settings(200, 1_600)).take(8).collect();
        let base = [200, 400, 800, 1_600, 1_600, 1_600, 1_600, 1_600];
        for (delay, base) in delays.iter().zip(base.map(Duration::from_millis)) {
            assert!(
                (base..=base * 2).contains(delay),
                "{delay:?} is not {base:?} plus at most as much again: {delays:?}"
            );
        }
    }

    #[test]
    fn a_clone_starts_the_schedule_again() {
        let mut open_for = OpenFor::new(&settings(200, 10_000));
        open_for.by_ref().take(5).for_each(drop);
        let first = open_for.clone().next().unwrap_or_default();
        assert!(
            (Duration::from_millis(200)..=Duration::from_millis(400)).contains(&first),
            "{first:?}"
        );
    }

    #[test]
    fn a_breaker_reopens_for_longer_after_a_failed_trial_and_starts_short_after_a_success() {
        let mut policy = consecutive_failures(1, OpenFor::new(&settings(1_000, 60_000)));
        let first = policy.mark_dead_on_failure().unwrap_or_default();
        let second = policy.mark_dead_on_failure().unwrap_or_default();
        assert!(
            second >= Duration::from_secs(2),
            "{first:?} then {second:?}"
        );
        policy.revived();
        let again = policy.mark_dead_on_failure().unwrap_or_default();
        assert!(again <= Duration::from_secs(2), "{again:?}");
    }

    /// A backend behind a breaker that opens after one failure for 50-100 ms; `reached`
    /// counts the calls that got to it.
    struct Backend {
        upstream: Upstream<()>,
        reached: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Backend {
        fn new() -> Self {
            Self {
                upstream: Upstream::new(
                    "test",
                    (),
                    &settings(50, 50),
                    0,
                    Arc::new(TpsBudget::new(Duration::from_secs(10), 10, 0.2)),
                ),
                reached: Arc::default(),
            }
        }

        /// One call that reaches the backend after `answer_after` and fails or succeeds.
        async fn call(&self, answer_after: Duration, fails: bool) -> Result<(), UpstreamError> {
            self.upstream
                .call(Call::Write, Duration::from_secs(5), |()| {
                    let reached = self.reached.clone();
                    async move {
                        reached.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(answer_after).await;
                        if fails {
                            Err(Status::unavailable("down"))
                        } else {
                            Ok(tonic::Response::new(()))
                        }
                    }
                })
                .await
        }

        /// Opens the breaker with one failure and waits out its open time.
        async fn open_and_wait(&self) {
            assert!(self.call(Duration::ZERO, true).await.is_err());
            assert!(matches!(
                self.call(Duration::ZERO, false).await,
                Err(UpstreamError::BreakerOpen("test"))
            ));
            tokio::time::sleep(Duration::from_millis(250)).await;
            self.reached.store(0, Ordering::SeqCst);
        }

        fn reached(&self) -> usize {
            self.reached.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn when_the_open_time_ends_one_call_tries_the_backend_and_the_rest_are_refused() {
        let backend = Backend::new();
        backend.open_and_wait().await;

        let calls = (0..10).map(|_| backend.call(Duration::from_millis(200), false));
        let outcomes = futures::future::join_all(calls).await;
        assert_eq!(backend.reached(), 1, "only the trial reaches the backend");
        assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 1);
        assert!(
            outcomes
                .iter()
                .filter_map(|o| o.as_ref().err())
                .all(|e| matches!(e, UpstreamError::BreakerOpen("test"))),
            "{outcomes:?}"
        );

        // The trial succeeded: the breaker is closed and every call goes through again.
        let calls = (0..10).map(|_| backend.call(Duration::from_millis(10), false));
        let outcomes = futures::future::join_all(calls).await;
        assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        assert_eq!(backend.reached(), 11);
    }

    #[tokio::test]
    async fn a_trial_that_is_dropped_lets_the_next_call_try() {
        let backend = Backend::new();
        backend.open_and_wait().await;

        let abandoned = tokio::time::timeout(
            Duration::from_millis(20),
            backend.call(Duration::from_secs(5), false),
        )
        .await;
        assert!(abandoned.is_err(), "the caller gave up on the trial");
        assert!(backend.call(Duration::ZERO, false).await.is_ok());
        assert_eq!(backend.reached(), 2);
    }
}
