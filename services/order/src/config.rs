//! Settings of the order service. The defaults run against local Postgres and RabbitMQ and the
//! other services on their default ports, with no configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use shop_auth::IdentitySettings;
use shop_backend::{BackendSettings, OwnSettings};
use shop_platform::config::{ConfigError, Validate};
use shop_platform::grpc_client::validate_uri;
use shop_platform::services;

use crate::app::SagaPolicy;

/// Everything the order service reads at startup: the sections every backend has and its
/// own; `SHOP_<SECTION>__<KEY>` overrides any field.
pub type Settings = BackendSettings<OrderSettings>;

/// The sections only the order service has.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSettings {
    /// Who this service is when it calls inventory and payment (the saga's steps).
    pub identity: IdentitySettings,
    pub upstream: Upstreams,
    pub saga: SagaSettings,
}

/// Where the peers are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstreams {
    /// For the keys that verify tokens, and this service's own token.
    pub user: String,
    pub inventory: String,
    pub payment: String,
}

/// The place-order saga's clocks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagaSettings {
    /// After this (from placement) an unfinished saga is compensated, never confirmed. Must be
    /// shorter than the inventory's reservation TTL.
    #[serde(with = "humantime_serde")]
    pub deadline: Duration,
    /// How long PlaceOrder drives the saga before answering with the order as it stands.
    #[serde(with = "humantime_serde")]
    pub request_budget: Duration,
    /// How long one call to inventory may take.
    #[serde(with = "humantime_serde")]
    pub step_timeout: Duration,
    /// How long one call to payment may take: derived from the payment service's own timeout
    /// for a processor call (its `provider.timeout`, 2 s) plus a margin, so a charge that
    /// takes as long as the processor may take is answered, not given up on and retried while
    /// it is still running. Keep it above that timeout when changing either.
    #[serde(with = "humantime_serde")]
    pub payment_timeout: Duration,
    /// How long a driver owns a saga before the recovery worker may take it over.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// How long a PlaceOrder with a known idempotency key waits for the first to finish.
    #[serde(with = "humantime_serde")]
    pub duplicate_wait: Duration,
    /// How often the recovery worker looks for stalled sagas.
    #[serde(with = "humantime_serde")]
    pub recovery_interval: Duration,
    /// How long the recovery worker drives one saga per round.
    #[serde(with = "humantime_serde")]
    pub recovery_budget: Duration,
    /// How many stalled sagas the recovery worker claims and drives at once per round (per
    /// replica). After an outage the backlog is worked off this many at a time.
    pub recovery_concurrency: usize,
    /// This replica's name, the same across its restarts and never shared by two replicas
    /// running at once (in Kubernetes the pod's name). Leases carry it, and a restarted
    /// process takes back at once the sagas its previous one was driving instead of waiting
    /// out `lease`. Unset: every lease of a dead process simply expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl SagaSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let saga = self;
        if saga.step_timeout.is_zero()
            || saga.payment_timeout.is_zero()
            || saga.request_budget.is_zero()
        {
            return Err(ConfigError::new(
                &["saga", "request_budget"],
                "timeouts must be positive",
            ));
        }
        // A driver starts no step after its budget, but one started just before runs to its
        // timeout: the lease must cover both, or a second driver could take over a live one.
        let longest_drive = saga.request_budget.max(saga.recovery_budget)
            + saga.step_timeout.max(saga.payment_timeout);
        if saga.lease <= longest_drive {
            return Err(ConfigError::new(
                &["saga", "lease"],
                "must be longer than request_budget and recovery_budget plus the longer of \
                     step_timeout and payment_timeout",
            ));
        }
        if saga.recovery_concurrency == 0 {
            return Err(ConfigError::new(
                &["saga", "recovery_concurrency"],
                "must be at least 1",
            ));
        }
        if saga.deadline <= saga.request_budget {
            return Err(ConfigError::new(
                &["saga", "deadline"],
                "must be longer than request_budget",
            ));
        }
        if let Some(instance) = &saga.instance
            && (instance.trim().is_empty() || instance.len() > 253)
        {
            return Err(ConfigError::new(
                &["saga", "instance"],
                "must be a name of 1 to 253 characters, or unset",
            ));
        }
        if saga.recovery_interval.is_zero() {
            return Err(ConfigError::new(
                &["saga", "recovery_interval"],
                "must be positive",
            ));
        }
        Ok(())
    }

    pub fn policy(&self) -> SagaPolicy {
        SagaPolicy {
            deadline: self.deadline,
            request_budget: self.request_budget,
            lease: self.lease,
            duplicate_wait: self.duplicate_wait,
            recovery_budget: self.recovery_budget,
            recovery_concurrency: self.recovery_concurrency,
        }
    }
}

impl OwnSettings for OrderSettings {
    const SERVICE: &'static str = "order";
    const DATABASE: &'static str = "orders";
}

impl Default for OrderSettings {
    fn default() -> Self {
        Self {
            identity: IdentitySettings::for_service("order"),
            upstream: Upstreams {
                user: services::local_url("user"),
                inventory: services::local_url("inventory"),
                payment: services::local_url("payment"),
            },
            saga: SagaSettings {
                deadline: Duration::from_secs(120),
                request_budget: Duration::from_secs(3),
                step_timeout: Duration::from_secs(2),
                payment_timeout: Duration::from_millis(2_500),
                lease: Duration::from_secs(8),
                duplicate_wait: Duration::from_secs(3),
                recovery_interval: Duration::from_secs(1),
                recovery_budget: Duration::from_secs(5),
                recovery_concurrency: 32,
                instance: None,
            },
        }
    }
}

impl Validate for OrderSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.identity.validate("identity")?;
        validate_uri(&self.upstream.user, &["upstream", "user"])?;
        validate_uri(&self.upstream.inventory, &["upstream", "inventory"])?;
        validate_uri(&self.upstream.payment, &["upstream", "payment"])?;
        self.saga.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_and_a_lease_shorter_than_a_drive_is_refused_by_name() {
        let mut saga = OrderSettings::default().saga;
        saga.validate().unwrap();
        // A recovery round may start a charge just before its budget ends.
        saga.lease = saga.recovery_budget + Duration::from_secs(1);
        let err = saga.validate().unwrap_err();
        assert!(err.to_string().contains("SHOP_SAGA__LEASE"), "{err}");
    }

    #[test]
    fn an_instance_name_is_optional_but_never_blank() {
        let mut saga = OrderSettings::default().saga;
        saga.instance = Some("order-7d9f8-x2k4p".to_owned());
        saga.validate().unwrap();
        saga.instance = Some("  ".to_owned());
        let err = saga.validate().unwrap_err();
        assert!(err.to_string().contains("SHOP_SAGA__INSTANCE"), "{err}");
    }
}
