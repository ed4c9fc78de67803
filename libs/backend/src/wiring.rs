//! The wiring every backend shares: its connections, and the host they make.

use anyhow::Context as _;
use redis::aio::ConnectionManager;
use shop_auth::grpc::AuthLayer;
use shop_auth::{AuthSettings, RedisDenylist, TokenVerifier};
use shop_events::subscriptions::Subscription;
use shop_messaging::{AmqpSettings, Consumer, OutboxRelay, OutboxWriter};
use shop_platform::access::AccessTable;
use shop_platform::admin::Dependency;
use shop_platform::config::{AdminSettings, ServerSettings, ShutdownSettings};
use shop_platform::flags::Flags;
use shop_platform::grpc_client::GrpcChannel;
use shop_platform::service::{self, Service};
use shop_platform::{GrpcService, ServiceHost, postgres};
use sqlx::PgPool;
use tower::Layer as _;

use crate::settings::{BackendSettings, OwnSettings};

/// A backend's connections, and the parts of the wiring that every backend makes from them
/// the same way: its outbox, its consumers, its token verifier and its host.
///
/// ```ignore
/// let backend = Backend::connect::<ShopPayment>(&settings).await?;
/// let payments = Payments::new(Arc::new(PgPaymentStore::new(backend.pool(), backend.outbox())), ..);
/// let verifier = backend.verifier(channel(&settings.upstream.user)?);
/// let mut host = backend.host(verifier, PaymentServiceServer::new(GrpcPaymentService::new(..))).await?;
/// host.spawn_worker("order-cancellations", ..backend.consumer(PAYMENT_ORDER_CANCELLED)..);
/// ```
#[derive(Clone)]
#[allow(missing_debug_implementations)] // Connections; nothing to print.
pub struct Backend {
    pool: PgPool,
    redis: ConnectionManager,
    binary: &'static str,
    service: &'static str,
    access: &'static AccessTable,
    grpc: ServerSettings,
    admin: AdminSettings,
    shutdown: ShutdownSettings,
    amqp: AmqpSettings,
    auth: AuthSettings,
    key_prefix: String,
    flags: Flags,
}

impl Backend {
    /// Connects to the service's database (applying `S`'s migrations) and to Redis, and reads
    /// the flag file.
    ///
    /// # Errors
    /// When either cannot be reached, a migration fails, the flag file cannot be read, or `S`
    /// declares no access table (a backend serves every RPC behind one).
    pub async fn connect<S: Service>(
        settings: &BackendSettings<impl OwnSettings>,
    ) -> anyhow::Result<Self> {
        let access = S::ACCESS.with_context(|| {
            format!(
                "{} serves gRPC, so it must declare its access table",
                S::NAME
            )
        })?;
        let pool = service::connect_and_migrate::<S>(&settings.database).await?;
        let redis = shop_platform::redis::connect(&settings.redis).await?;
        let flags = Flags::from_settings(&settings.flags).await?;
        Ok(Self {
            pool,
            redis,
            binary: S::NAME,
            service: settings.service(),
            access,
            grpc: settings.grpc.clone(),
            admin: settings.admin.clone(),
            shutdown: settings.shutdown.clone(),
            amqp: settings.amqp.clone(),
            auth: settings.auth.clone(),
            key_prefix: settings.redis.key_prefix.clone(),
            flags,
        })
    }

    /// The service's database.
    pub fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    /// Its Redis connection.
    pub fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }

    /// How its stores write events into the outbox, in the transaction of the change.
    pub fn outbox(&self) -> OutboxWriter {
        OutboxWriter::new(self.service)
    }

    /// The runtime flags of the flag file (docs/flags.md), re-read while the service runs.
    pub fn flags(&self) -> Flags {
        self.flags.clone()
    }

    /// The session denylist people's tokens are checked against.
    pub fn denylist(&self) -> RedisDenylist {
        RedisDenylist::new(self.redis.clone(), &self.key_prefix)
    }

    /// Verifies tokens with the keys the user service at `user` publishes, and people's
    /// sessions against the denylist.
    pub fn verifier(&self, user: GrpcChannel) -> TokenVerifier {
        TokenVerifier::for_service(&self.auth, user, self.redis.clone(), &self.key_prefix)
    }

    /// A consumer of `subscription`; register its handlers with `on` and give it to the host
    /// with `spawn_worker`.
    pub fn consumer(&self, subscription: Subscription) -> Consumer {
        Consumer::new(self.pool.clone(), self.amqp.clone(), subscription)
            .with_flags(self.flags.clone())
    }

    /// Binds the service's gRPC and admin listeners (port 0 allowed) and serves `server`
    /// behind its access table, checked by `verifier`. The host is ready while Postgres answers
    /// (and Redis, unless the service fails open without it), and relays the outbox to RabbitMQ.
    ///
    /// # Errors
    /// When a listener cannot be bound.
    pub async fn host<Svc: GrpcService>(
        &self,
        verifier: TokenVerifier,
        server: Svc,
    ) -> anyhow::Result<ServiceHost>
    where
        Svc::Future: Send + 'static,
    {
        let mut host =
            ServiceHost::grpc(self.binary, &self.grpc, &self.admin, self.shutdown.clone()).await?;
        postgres::add_readiness_check(host.readiness(), &self.pool);
        // Redis holds the session denylist (and caches); a service that admits signed tokens
        // while the denylist is unavailable serves without Redis, so it stays ready.
        let redis = if self.auth.denylist_fail_open {
            Dependency::FailsOpen
        } else {
            Dependency::Required
        };
        shop_platform::redis::add_readiness_check(host.readiness(), &self.redis, redis);
        host.add_service(AuthLayer::new(verifier, self.access).layer(server));
        let relay = OutboxRelay::new(self.pool.clone(), self.amqp.clone(), self.service)
            .with_flags(self.flags.clone());
        host.spawn_worker("outbox-relay", move |stop| relay.run(stop));
        Ok(host)
    }
}
