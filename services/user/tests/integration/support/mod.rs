//! A user service per test: fresh database, isolated broker names and Redis keys, real
//! listeners on free ports, started through the production `Application::build`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // Not every test uses all of it.

use std::net::SocketAddr;

use shop_messaging::AmqpSettings;
use shop_platform::ShutdownTrigger;
use shop_platform::config::{AdminSettings, Secret, ServerSettings};
use shop_platform::service::Service as _;
use shop_proto::user::v1 as pb;
use shop_proto::user::v1::user_service_client::UserServiceClient;
use shop_testkit::TestDatabase;
use shop_user::{Settings, ShopUser};
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub addr: SocketAddr,
    pub db: TestDatabase,
    pub settings: Settings,
    pub users: shop_user::app::Users,
    trigger: ShutdownTrigger,
    task: JoinHandle<anyhow::Result<()>>,
}

pub async fn test_settings(db: &TestDatabase) -> Settings {
    let mut settings = Settings {
        grpc: ServerSettings::on_port(0),
        admin: AdminSettings::on_port(0),
        amqp: AmqpSettings::isolated(
            shop_testkit::amqp_url().await,
            &shop_testkit::unique_name("user"),
        ),
        ..Settings::default()
    };
    settings.database.url = Secret::new(db.url.clone());
    settings.redis.url = Secret::new(shop_testkit::redis_url().await);
    settings.redis.key_prefix = format!("{}:", shop_testkit::unique_name("user"));
    settings
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        shop_testkit::init();
        let db = TestDatabase::create_empty().await;
        let mut settings = test_settings(&db).await;
        adjust(&mut settings);
        let app = ShopUser::build(settings.clone()).await.unwrap();
        Self {
            addr: app.public_addr(),
            users: app.handle().clone(),
            trigger: app.shutdown_trigger(),
            db,
            settings,
            task: tokio::spawn(app.run_until_stopped()),
        }
    }

    pub async fn client(&self) -> UserServiceClient<Channel> {
        UserServiceClient::new(shop_testkit::grpc::connect(self.addr).await)
    }

    pub async fn register(&self, email: &str) -> pb::User {
        self.client()
            .await
            .register(pb::RegisterRequest {
                email: email.to_owned(),
                password: PASSWORD.to_owned(),
                name: "Ann Example".to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .user
            .unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<pb::TokenPair, tonic::Status> {
        self.login_from(email, password, "").await
    }

    /// Signs in as a client at `client` (the address the gateway passes on).
    pub async fn login_from(
        &self,
        email: &str,
        password: &str,
        client: &str,
    ) -> Result<pb::TokenPair, tonic::Status> {
        self.client()
            .await
            .login(pb::LoginRequest {
                email: email.to_owned(),
                password: password.to_owned(),
                client: client.to_owned(),
            })
            .await
            .map(|r| r.into_inner().tokens.unwrap())
    }

    pub async fn stop(self) {
        self.trigger.trigger();
        self.task.await.unwrap().unwrap();
        shop_messaging::topology::teardown(&self.settings.amqp)
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
