//! A service's own identity: a short-lived service token, fetched from the user service with
//! the service's client secret, renewed in the background before it expires, and attached to
//! every outgoing call on the channels the service wraps with it.
//!
//! ```ignore
//! let (identity, renewal) = ServiceIdentity::new(&settings.identity, user_channel);
//! let inventory = InventoryServiceClient::new(identity.attach(channel(&upstream.inventory)?));
//! renewal.install(&mut host);
//! ```
//!
//! A call made before the first token arrives fails at once with UNAVAILABLE (a caller treats
//! it like any other "try again"); [`IdentityRenewal::install`] makes the host's readiness wait
//! for the first token, so a balancer sends no work to a service that cannot yet call its peers.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};
use serde::{Deserialize, Serialize};
use shop_platform::config::{ConfigError, Secret};
use shop_platform::grpc_client::GrpcChannel;
use shop_proto::user::v1::IssueServiceTokenRequest;
use shop_proto::user::v1::user_service_client::UserServiceClient;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;

use crate::caller::is_service_name;

/// The shortest client secret accepted: 32 characters (the generated ones carry 256 bits).
pub const MIN_SECRET_LEN: usize = 32;

/// The `identity` settings section of a service that calls others as itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySettings {
    /// The client id at the user service: the service's name (`order`).
    pub client_id: String,
    /// The secret that proves it. No default: `shop-user service-credentials <name>` makes one.
    pub client_secret: Secret,
    /// Renew the token when this fraction of its lifetime has passed.
    pub renew_at: f64,
}

impl IdentitySettings {
    /// Settings for the service `name`, still without a secret.
    pub fn for_service(name: &str) -> Self {
        Self {
            client_id: name.to_owned(),
            client_secret: Secret::new(""),
            renew_at: 2.0 / 3.0,
        }
    }

    /// Checks the section; `section` is its name in the service's settings.
    pub fn validate(&self, section: &str) -> Result<(), ConfigError> {
        if !is_service_name(&self.client_id) {
            return Err(ConfigError::new(
                &[section, "client_id"],
                "must be a service name: lower-case letters and digits, at most 32",
            ));
        }
        if self.client_secret.expose().len() < MIN_SECRET_LEN {
            return Err(ConfigError::new(
                &[section, "client_secret"],
                format!(
                    "must be set to this service's secret (at least {MIN_SECRET_LEN} characters); \
                     `shop-user service-credentials {}` makes one",
                    self.client_id
                ),
            ));
        }
        if !(self.renew_at > 0.1 && self.renew_at < 0.95) {
            return Err(ConfigError::new(
                &[section, "renew_at"],
                "must be a fraction of the token's lifetime between 0.1 and 0.95",
            ));
        }
        Ok(())
    }
}

/// The token in use: the ready-made metadata value and when it stops being valid.
#[derive(Clone)]
struct Current {
    header: MetadataValue<tonic::metadata::Ascii>,
    expires_at: Instant,
}

/// The service's identity as its clients see it: the current token, if any. Cheap to clone.
#[derive(Clone)]
pub struct ServiceIdentity {
    name: Arc<str>,
    current: watch::Receiver<Option<Current>>,
}

impl std::fmt::Debug for ServiceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceIdentity")
            .field("name", &self.name)
            .field("has_token", &self.has_token())
            .finish()
    }
}

/// The background work that keeps the identity's token fresh; run it as a host worker.
pub struct IdentityRenewal {
    client: UserServiceClient<GrpcChannel>,
    client_id: String,
    client_secret: Secret,
    renew_at: f64,
    current: watch::Sender<Option<Current>>,
}

impl std::fmt::Debug for IdentityRenewal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityRenewal")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A channel whose calls carry the service's token.
pub type IdentifiedChannel = InterceptedService<GrpcChannel, AttachServiceToken>;

impl ServiceIdentity {
    /// The identity described by `settings`, and the worker that fetches and renews its token
    /// from the user service over `user`.
    pub fn new(settings: &IdentitySettings, user: GrpcChannel) -> (Self, IdentityRenewal) {
        let (sender, receiver) = watch::channel(None);
        (
            Self {
                name: settings.client_id.as_str().into(),
                current: receiver,
            },
            IdentityRenewal {
                client: UserServiceClient::new(user),
                client_id: settings.client_id.clone(),
                client_secret: settings.client_secret.clone(),
                renew_at: settings.renew_at,
                current: sender,
            },
        )
    }

    /// Whether a token that has not expired is at hand.
    pub fn has_token(&self) -> bool {
        self.current
            .borrow()
            .as_ref()
            .is_some_and(|current| current.expires_at > Instant::now())
    }

    /// Waits until the first token arrives, at most `timeout`; `false` if it did not.
    pub async fn wait_for_token(&self, timeout: Duration) -> bool {
        let mut current = self.current.clone();
        tokio::time::timeout(timeout, current.wait_for(Option::is_some))
            .await
            .is_ok_and(|seen| seen.is_ok())
    }

    /// `channel`, with this service's token on every call.
    pub fn attach(&self, channel: GrpcChannel) -> IdentifiedChannel {
        InterceptedService::new(
            channel,
            AttachServiceToken {
                current: self.current.clone(),
            },
        )
    }
}

/// Puts `authorization: Bearer <service token>` on a call; UNAVAILABLE when there is no valid
/// token (yet, or any more).
#[derive(Clone)]
pub struct AttachServiceToken {
    current: watch::Receiver<Option<Current>>,
}

impl std::fmt::Debug for AttachServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachServiceToken").finish_non_exhaustive()
    }
}

impl Interceptor for AttachServiceToken {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let header = match self.current.borrow().as_ref() {
            Some(current) if current.expires_at > Instant::now() => current.header.clone(),
            _ => {
                return Err(tonic::Status::unavailable(
                    "this service has no valid service token yet",
                ));
            }
        };
        request.metadata_mut().insert("authorization", header);
        Ok(request)
    }
}

/// How long a failed fetch waits before the next try: from 100 ms, doubling, at most 5 s.
fn retry_delays() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_jitter()
        .without_max_times()
        .build()
}

impl IdentityRenewal {
    /// Runs the renewal as a worker of `host`, and keeps `host` not ready until the first token
    /// arrived (until then no call to a peer could succeed). Later renewal failures show in
    /// `auth_service_token_renewals_total`, not in readiness: the token in hand outlives them.
    pub fn install(self, host: &mut shop_platform::ServiceHost) {
        let issued = self.current.subscribe();
        host.readiness().add_check("service-identity", move || {
            let issued = issued.borrow().is_some();
            async move {
                anyhow::ensure!(issued, "no service token from the user service yet");
                Ok(())
            }
        });
        host.spawn_worker("service-identity", move |stop| self.run(stop));
    }

    /// Fetches a token, then renews it each time `renew_at` of its lifetime has passed; retries
    /// failures with backoff. Runs until `stop`.
    pub async fn run(mut self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut delays = retry_delays();
        loop {
            let wait = match self.fetch().await {
                Ok(lifetime) => {
                    delays = retry_delays();
                    metrics::counter!("auth_service_token_renewals_total", "outcome" => "ok")
                        .increment(1);
                    lifetime.mul_f64(self.renew_at)
                }
                Err(status) => {
                    metrics::counter!("auth_service_token_renewals_total", "outcome" => "error")
                        .increment(1);
                    tracing::warn!(
                        client_id = self.client_id,
                        code = ?status.code(),
                        message = status.message(),
                        "fetching the service token failed; retrying"
                    );
                    delays.next().unwrap_or(Duration::from_secs(5))
                }
            };
            tokio::select! {
                () = stop.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One fetch; the token's lifetime on success.
    async fn fetch(&mut self) -> Result<Duration, tonic::Status> {
        let asked_at = Instant::now();
        let mut request = tonic::Request::new(IssueServiceTokenRequest {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.expose().to_owned(),
        });
        request.set_timeout(Duration::from_secs(3));
        let issued = self.client.issue_service_token(request).await?.into_inner();
        let lifetime = Duration::from_secs(u64::try_from(issued.expires_in).unwrap_or(0));
        if lifetime.is_zero() {
            return Err(tonic::Status::internal(
                "the user service issued a token without a lifetime",
            ));
        }
        let header = format!("Bearer {}", issued.access_token)
            .parse()
            .map_err(|_| tonic::Status::internal("the issued token is not valid metadata"))?;
        // Measured from when we asked, so a slow answer never makes us think it lives longer.
        self.current.send_replace(Some(Current {
            header,
            expires_at: asked_at + lifetime,
        }));
        tracing::debug!(
            client_id = self.client_id,
            ?lifetime,
            "service token renewed"
        );
        Ok(lifetime)
    }
}
