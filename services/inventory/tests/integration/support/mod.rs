//! An inventory service per test, with the real user service beside it (it issues the tokens
//! the inventory verifies), started through the shared test harness.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // Not every test uses all of it.

use std::net::SocketAddr;
use std::sync::Arc;

use shop_inventory::Settings;
use shop_inventory::adapters::cached_catalog::CacheStats;
use shop_messaging::AmqpSettings;
use shop_proto::common::v1::Money;
use shop_proto::inventory::v1 as pb;
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_test_services::TestShop;
pub use shop_test_services::authed;
use tonic::transport::Channel;
use uuid::Uuid;

pub struct TestInventory {
    pub addr: SocketAddr,
    pub pool: sqlx::PgPool,
    pub amqp: AmqpSettings,
    pub inventory: shop_inventory::app::Inventory,
    pub cache: Arc<CacheStats>,
    pub admin_token: String,
    pub customer_token: String,
    /// The order service's token: the saga's steps (reserve, release) are its alone.
    pub order_token: String,
    shop: TestShop,
}

impl TestInventory {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let mut shop = TestShop::new().await;
        let user = shop.user(|_| {}).await;
        let admin_token = shop_test_services::admin(&user, "admin@example.com").await;
        let (_, customer_token) = shop_test_services::customer(&user, "customer@example.com").await;
        let order_token = shop_test_services::service_token(&user, "order").await;
        let inventory = shop.inventory(&user, adjust).await;
        Self {
            addr: inventory.addr,
            pool: inventory.pool,
            amqp: shop.amqp.clone(),
            inventory: inventory.handle.inventory,
            cache: inventory.handle.cache,
            admin_token,
            customer_token,
            order_token,
            shop,
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
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Waits until the product's (available, reserved, sold, received) is `expected`: events
    /// are applied asynchronously.
    pub async fn wait_for_stock(&self, product: &str, expected: (i64, i64, i64, i64)) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let stock = self.stock(product).await;
            if stock == expected {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "stock is {stock:?}, expected {expected:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn reserve(
        &self,
        order_id: Uuid,
        product_id: &str,
        quantity: i64,
    ) -> Result<pb::Reservation, tonic::Status> {
        self.client()
            .await
            .reserve_stock(authed(
                pb::ReserveStockRequest {
                    order_id: order_id.to_string(),
                    lines: vec![pb::ReservationLine {
                        product_id: product_id.to_owned(),
                        quantity,
                    }],
                },
                &self.order_token,
            ))
            .await
            .map(|r| r.into_inner().reservation.unwrap())
    }

    /// Reserves as the order service does: an `Unavailable` answer (the service was too busy
    /// to answer in time) is retried for the same order, which reserves at most once.
    pub async fn reserve_retrying(
        &self,
        order_id: Uuid,
        product_id: &str,
        quantity: i64,
    ) -> Result<pb::Reservation, tonic::Status> {
        shop_testkit::grpc::retry_unavailable(|| self.reserve(order_id, product_id, quantity)).await
    }

    /// Releases an order's reservation, as the order service does.
    pub async fn release(&self, order_id: Uuid) -> Result<pb::ReservationStatus, tonic::Status> {
        self.client()
            .await
            .release_reservation(authed(
                pb::ReleaseReservationRequest {
                    order_id: order_id.to_string(),
                },
                &self.order_token,
            ))
            .await
            .map(|r| r.into_inner().status())
    }

    pub async fn stop(self) {
        self.shop.stop().await;
    }
}
