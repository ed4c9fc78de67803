//! The real services, started in-process through their production `Application::build`, for
//! tests that need more than one of them: a [`TestShop`] shares one isolated set of broker
//! names and one Redis key prefix between its services (so their events reach each other and
//! nobody else's), and gives each service its own fresh database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test support: fail loudly and early.

use std::net::SocketAddr;

use shop_messaging::AmqpSettings;
use shop_platform::ShutdownTrigger;
use shop_platform::config::{AdminSettings, Secret, ServerSettings};
use shop_platform::service::{Built, Service as _};
use shop_proto::user::v1 as user_pb;
use shop_proto::user::v1::user_service_client::UserServiceClient;
use shop_testkit::TestDatabase;
use tokio::task::JoinHandle;

/// The password of every account the harness creates.
pub const PASSWORD: &str = "correct horse battery";

/// Every service the user service knows as a client in a test shop, so a test can call as any
/// of them (the authorization tests call every RPC as each one).
pub const SERVICES: [&str; 5] = ["gateway", "user", "inventory", "order", "payment"];

/// The client secret of service `name` in a test shop.
pub fn service_secret(name: &str) -> String {
    format!("test-secret-of-the-{name}-service-0123456789abcdef")
}

/// The digest the user service holds for `service_secret(name)`.
fn service_digest(name: &str) -> String {
    use std::fmt::Write as _;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(service_secret(name).as_bytes());
    digest.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// A service running as a task.
#[derive(Debug)]
struct Running {
    trigger: ShutdownTrigger,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    async fn stop(self) {
        self.trigger.trigger();
        self.task.await.unwrap().unwrap();
    }
}

/// What inventory tests reach into.
pub type InventoryHandle = shop_inventory::startup::Handle;

/// What payment tests reach into.
pub type PaymentHandle = shop_payment::startup::Handle;

/// One isolated shop for one test.
#[derive(Debug)]
pub struct TestShop {
    pub amqp: AmqpSettings,
    pub redis_url: String,
    pub redis_prefix: String,
    running: Vec<(SocketAddr, Running)>,
    databases: Vec<TestDatabase>,
}

/// A started service: where it listens, its database, and the handle its type offers tests.
#[derive(Debug)]
pub struct Started<H> {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    /// A pool on the service's own database, for arranging and asserting.
    pub pool: sqlx::PgPool,
    /// The service's database, for starting another instance on it.
    pub database_url: String,
    pub handle: H,
}

impl<H> Started<H> {
    /// `http://127.0.0.1:<port>`, what a peer's `upstream` setting takes.
    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    pub async fn channel(&self) -> tonic::transport::Channel {
        shop_testkit::grpc::connect(self.addr).await
    }
}

impl TestShop {
    pub async fn new() -> Self {
        shop_testkit::init();
        let name = shop_testkit::unique_name("shop");
        Self {
            amqp: AmqpSettings::isolated(shop_testkit::amqp_url().await, &name),
            redis_url: shop_testkit::redis_url().await,
            redis_prefix: format!("{name}:"),
            running: Vec::new(),
            databases: Vec::new(),
        }
    }

    async fn database(&mut self) -> (String, sqlx::PgPool) {
        let db = TestDatabase::create_empty().await;
        let url = db.url.clone();
        let pool = db.pool.clone();
        self.databases.push(db);
        (url, pool)
    }

    /// Runs a built service as a task, kept until the shop stops.
    fn run<H: Clone + Send + 'static>(
        &mut self,
        built: Built<H>,
        (database_url, pool): (String, sqlx::PgPool),
    ) -> Started<H> {
        let started = Started {
            addr: built.public_addr(),
            admin_addr: built.admin_addr(),
            pool,
            database_url,
            handle: built.handle().clone(),
        };
        let trigger = built.shutdown_trigger();
        let task = tokio::spawn(built.run_until_stopped());
        self.running.push((started.addr, Running { trigger, task }));
        started
    }

    /// Stops one service (the one listening on `addr`), the way SIGTERM would.
    pub async fn stop_service(&mut self, addr: SocketAddr) {
        if let Some(index) = self.running.iter().position(|(a, _)| *a == addr) {
            let (_, running) = self.running.remove(index);
            running.stop().await;
        }
    }

    /// Starts the user service.
    pub async fn user(
        &mut self,
        adjust: impl FnOnce(&mut shop_user::Settings),
    ) -> Started<shop_user::app::Users> {
        let (url, pool) = self.database().await;
        let mut settings = shop_user::Settings {
            grpc: ServerSettings::on_port(0),
            admin: AdminSettings::on_port(0),
            amqp: self.amqp.clone(),
            ..shop_user::Settings::default()
        };
        let url_copy = url.clone();
        settings.database.url = Secret::new(url);
        settings.redis.url = Secret::new(self.redis_url.clone());
        settings.redis.key_prefix.clone_from(&self.redis_prefix);
        settings.service_clients = SERVICES
            .iter()
            .map(|name| ((*name).to_owned(), Secret::new(service_digest(name))))
            .collect();
        adjust(&mut settings);
        let built = shop_user::ShopUser::build(settings).await.unwrap();
        self.run(built, (url_copy, pool))
    }

    /// Starts the inventory service, trusting `user`'s tokens.
    pub async fn inventory<U>(
        &mut self,
        user: &Started<U>,
        adjust: impl FnOnce(&mut shop_inventory::Settings),
    ) -> Started<InventoryHandle> {
        let (url, pool) = self.database().await;
        let mut settings = shop_inventory::Settings {
            grpc: ServerSettings::on_port(0),
            admin: AdminSettings::on_port(0),
            amqp: self.amqp.clone(),
            ..shop_inventory::Settings::default()
        };
        let url_copy = url.clone();
        settings.database.url = Secret::new(url);
        settings.redis.url = Secret::new(self.redis_url.clone());
        settings.redis.key_prefix.clone_from(&self.redis_prefix);
        settings.upstream.user = user.uri();
        adjust(&mut settings);
        let built = shop_inventory::ShopInventory::build(settings)
            .await
            .unwrap();
        self.run(built, (url_copy, pool))
    }

    /// Starts the payment service, trusting `user`'s tokens.
    pub async fn payment<U>(
        &mut self,
        user: &Started<U>,
        adjust: impl FnOnce(&mut shop_payment::Settings),
    ) -> Started<PaymentHandle> {
        let (url, pool) = self.database().await;
        let mut settings = shop_payment::Settings {
            grpc: ServerSettings::on_port(0),
            admin: AdminSettings::on_port(0),
            amqp: self.amqp.clone(),
            ..shop_payment::Settings::default()
        };
        let url_copy = url.clone();
        settings.database.url = Secret::new(url);
        settings.redis.url = Secret::new(self.redis_url.clone());
        settings.redis.key_prefix.clone_from(&self.redis_prefix);
        settings.upstream.user = user.uri();
        adjust(&mut settings);
        let built = shop_payment::ShopPayment::build(settings).await.unwrap();
        self.run(built, (url_copy, pool))
    }

    /// Starts the order service with real peers: the given inventory and payment services.
    pub async fn order<U, I, P>(
        &mut self,
        user: &Started<U>,
        inventory: &Started<I>,
        payment: &Started<P>,
        adjust: impl FnOnce(&mut shop_order::Settings),
    ) -> Started<shop_order::app::Orders> {
        let (url, pool) = self.database().await;
        let (inventory, payment) = (inventory.uri(), payment.uri());
        self.order_on(user, (url, pool), std::convert::identity, move |s| {
            s.upstream.inventory = inventory;
            s.upstream.payment = payment;
            adjust(s);
        })
        .await
    }

    /// Starts an order service on an existing database (a restart), with its real peers as
    /// `decorate` returns them (to make them misbehave on purpose).
    pub async fn order_on<U>(
        &mut self,
        user: &Started<U>,
        database: (String, sqlx::PgPool),
        decorate: impl FnOnce(shop_order::startup::Peers) -> shop_order::startup::Peers,
        adjust: impl FnOnce(&mut shop_order::Settings),
    ) -> Started<shop_order::app::Orders> {
        let (url, pool) = database;
        let mut settings = shop_order::Settings {
            grpc: ServerSettings::on_port(0),
            admin: AdminSettings::on_port(0),
            amqp: self.amqp.clone(),
            ..shop_order::Settings::default()
        };
        settings.database.url = Secret::new(url.clone());
        settings.redis.url = Secret::new(self.redis_url.clone());
        settings.redis.key_prefix.clone_from(&self.redis_prefix);
        settings.identity.client_secret = Secret::new(service_secret("order"));
        settings.upstream.user = user.uri();
        settings.shutdown.drain_timeout = std::time::Duration::from_millis(200);
        adjust(&mut settings);
        let built = shop_order::ShopOrder::build_with(settings, decorate)
            .await
            .unwrap();
        self.run(built, (url, pool))
    }

    /// A fresh database for a service the test starts itself.
    pub async fn new_database(&mut self) -> (String, sqlx::PgPool) {
        self.database().await
    }

    /// Stops every service and deletes the shop's broker topology.
    pub async fn stop(mut self) {
        while let Some((_, running)) = self.running.pop() {
            running.stop().await;
        }
        shop_messaging::topology::teardown(&self.amqp)
            .await
            .unwrap();
    }
}

/// The verified caller behind `token`, as a service would see it: for tests that call use
/// cases directly rather than through gRPC.
pub async fn caller<U>(user: &Started<U>, token: &str) -> shop_auth::Caller {
    let channel = shop_platform::grpc_client::channel(&user.uri()).unwrap();
    shop_auth::TokenVerifier::from_user_service(&shop_auth::AuthSettings::default(), channel)
        .verify_user(token)
        .await
        .unwrap()
}

/// A service token for the service `name`, issued by `user` the way the service itself gets
/// one (the harness registers every name in [`SERVICES`]).
pub async fn service_token<U>(user: &Started<U>, name: &str) -> String {
    UserServiceClient::new(user.channel().await)
        .issue_service_token(user_pb::IssueServiceTokenRequest {
            client_id: name.to_owned(),
            client_secret: service_secret(name),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token
}

/// Registers `email` and logs in; returns (user id, access token).
pub async fn customer<U>(user: &Started<U>, email: &str) -> (String, String) {
    let mut client = UserServiceClient::new(user.channel().await);
    let registered = client
        .register(user_pb::RegisterRequest {
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
            name: "Test Customer".to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    (registered.id, login(user, email, PASSWORD).await)
}

/// Creates an admin account through the operator path and logs in; returns its access token.
pub async fn admin(user: &Started<shop_user::app::Users>, email: &str) -> String {
    user.handle
        .create_admin(email, PASSWORD.to_owned(), "Admin")
        .await
        .unwrap();
    login(user, email, PASSWORD).await
}

pub async fn login<U>(user: &Started<U>, email: &str, password: &str) -> String {
    UserServiceClient::new(user.channel().await)
        .login(user_pb::LoginRequest {
            email: email.to_owned(),
            password: password.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap()
        .access_token
}

/// A request carrying `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}
