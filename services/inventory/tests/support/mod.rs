//! An inventory service per test, with the real user service beside it (it issues the tokens
//! the inventory verifies): fresh databases, isolated broker names and Redis keys.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // Not every test uses all of it.

use std::net::SocketAddr;
use std::sync::Arc;

use shop_inventory::adapters::cached_catalog::CacheStats;
use shop_inventory::{Application, Settings};
use shop_messaging::AmqpSettings;
use shop_platform::ShutdownTrigger;
use shop_platform::config::{AdminSettings, Secret, ServerSettings};
use shop_proto::common::v1::Money;
use shop_proto::inventory::v1 as pb;
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_proto::user::v1 as user_pb;
use shop_proto::user::v1::user_service_client::UserServiceClient;
use shop_testkit::TestDatabase;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use uuid::Uuid;

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

pub struct TestInventory {
    pub addr: SocketAddr,
    pub db: TestDatabase,
    pub settings: Settings,
    pub inventory: shop_inventory::app::Inventory,
    pub cache: Arc<CacheStats>,
    pub admin_token: String,
    pub customer_token: String,
    inventory_run: Running,
    user_run: Running,
    user_amqp: AmqpSettings,
    _user_db: TestDatabase,
}

/// Starts a user service, and makes an admin and a customer to hold tokens.
async fn start_user_service() -> (
    SocketAddr,
    Running,
    AmqpSettings,
    TestDatabase,
    String,
    String,
) {
    let db = TestDatabase::create_empty().await;
    let mut settings = shop_user::Settings {
        grpc: ServerSettings::on_port(0),
        admin: AdminSettings::on_port(0),
        amqp: AmqpSettings::isolated(
            shop_testkit::amqp_url().await,
            &shop_testkit::unique_name("user"),
        ),
        ..shop_user::Settings::default()
    };
    settings.database.url = Secret::new(db.url.clone());
    settings.redis.url = Secret::new(shop_testkit::redis_url().await);
    settings.redis.key_prefix = format!("{}:", shop_testkit::unique_name("user"));
    let amqp = settings.amqp.clone();
    let app = shop_user::Application::build(settings).await.unwrap();
    let addr = app.grpc_addr();
    app.users()
        .create_admin("admin@example.com", "Admin password 1".to_owned(), "Admin")
        .await
        .unwrap();
    let running = Running {
        trigger: app.shutdown_trigger(),
        task: tokio::spawn(app.run_until_stopped()),
    };
    let mut client = UserServiceClient::new(shop_testkit::grpc::connect(addr).await);
    client
        .register(user_pb::RegisterRequest {
            email: "customer@example.com".to_owned(),
            password: "Customer password 1".to_owned(),
            name: "Customer".to_owned(),
        })
        .await
        .unwrap();
    let token = |email: &str, password: &str| {
        let mut client = client.clone();
        let (email, password) = (email.to_owned(), password.to_owned());
        async move {
            client
                .login(user_pb::LoginRequest { email, password })
                .await
                .unwrap()
                .into_inner()
                .tokens
                .unwrap()
                .access_token
        }
    };
    let admin = token("admin@example.com", "Admin password 1").await;
    let customer = token("customer@example.com", "Customer password 1").await;
    (addr, running, amqp, db, admin, customer)
}

impl TestInventory {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        shop_testkit::init();
        let (user_addr, user_run, user_amqp, user_db, admin_token, customer_token) =
            start_user_service().await;
        let db = TestDatabase::create_empty().await;
        let mut settings = Settings {
            grpc: ServerSettings::on_port(0),
            admin: AdminSettings::on_port(0),
            amqp: AmqpSettings::isolated(
                shop_testkit::amqp_url().await,
                &shop_testkit::unique_name("inv"),
            ),
            ..Settings::default()
        };
        settings.database.url = Secret::new(db.url.clone());
        settings.redis.url = Secret::new(shop_testkit::redis_url().await);
        settings.redis.key_prefix = format!("{}:", shop_testkit::unique_name("inv"));
        settings.upstream.user = format!("http://127.0.0.1:{}", user_addr.port());
        adjust(&mut settings);
        let app = Application::build(settings.clone()).await.unwrap();
        Self {
            addr: app.grpc_addr(),
            inventory: app.inventory().clone(),
            cache: app.cache_stats(),
            inventory_run: Running {
                trigger: app.shutdown_trigger(),
                task: tokio::spawn(app.run_until_stopped()),
            },
            db,
            settings,
            admin_token,
            customer_token,
            user_run,
            user_amqp,
            _user_db: user_db,
        }
    }

    pub async fn client(&self) -> InventoryServiceClient<Channel> {
        InventoryServiceClient::new(shop_testkit::grpc::connect(self.addr).await)
    }

    /// Creates a product as the admin; returns its id.
    pub async fn create_product(&self, name: &str, price_minor: i64, stock: i64) -> String {
        self.client()
            .await
            .create_product(authed(
                pb::CreateProductRequest {
                    request_id: Uuid::now_v7().to_string(),
                    name: name.to_owned(),
                    description: format!("{name}, for tests"),
                    price: Some(Money {
                        amount_minor: price_minor,
                        currency: "EUR".to_owned(),
                    }),
                    image_url: String::new(),
                    initial_stock: stock,
                },
                &self.admin_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap()
            .id
    }

    pub async fn product(&self, id: &str) -> pb::Product {
        self.client()
            .await
            .get_product(pb::GetProductRequest {
                product_id: id.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .product
            .unwrap()
    }

    /// Stock straight from the database (the cache must not blur assertions on it).
    pub async fn stock(&self, id: &str) -> (i64, i64, i64, i64) {
        sqlx::query_as("SELECT available, reserved, sold, received FROM product WHERE id = $1")
            .bind(Uuid::parse_str(id).unwrap())
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }

    pub async fn reserve(
        &self,
        order_id: Uuid,
        product_id: &str,
        quantity: i64,
    ) -> Result<pb::Reservation, tonic::Status> {
        self.client()
            .await
            .reserve_stock(pb::ReserveStockRequest {
                order_id: order_id.to_string(),
                lines: vec![pb::ReservationLine {
                    product_id: product_id.to_owned(),
                    quantity,
                }],
            })
            .await
            .map(|r| r.into_inner().reservation.unwrap())
    }

    pub async fn stop(self) {
        self.inventory_run.stop().await;
        self.user_run.stop().await;
        shop_messaging::topology::teardown(&self.settings.amqp)
            .await
            .unwrap();
        shop_messaging::topology::teardown(&self.user_amqp)
            .await
            .unwrap();
    }
}

/// A request carrying `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    shop_auth::grpc::forward(&mut request, token);
    request
}
