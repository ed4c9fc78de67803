//! The whole back end for order tests: the real user, inventory and payment services and the
//! order service, in-process, on one isolated broker namespace and fresh databases.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // Not every test uses all of it.

use std::time::{Duration, Instant};

use shop_proto::common::v1::Money;
use shop_proto::inventory::v1 as inventory_pb;
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_proto::order::v1 as pb;
use shop_proto::order::v1::order_service_client::OrderServiceClient;
use shop_test_services::{InventoryHandle, PaymentHandle, Started, TestShop, authed};
use tonic::transport::Channel;
use uuid::Uuid;

pub struct Shop {
    pub shop: TestShop,
    pub user: Started<shop_user::app::Users>,
    pub inventory: Started<InventoryHandle>,
    pub payment: Started<PaymentHandle>,
    pub order: Started<shop_order::app::Orders>,
    pub admin_token: String,
    pub customer_id: String,
    pub customer_token: String,
}

impl Shop {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut shop_order::Settings)) -> Self {
        Self::start_configured(|_| {}, |_| {}, adjust).await
    }

    /// Starts the shop with the user service's settings, the saga peers' (inventory and
    /// payment) token checks, and the order service's settings adjusted.
    pub async fn start_configured(
        user: impl FnOnce(&mut shop_user::Settings),
        peers_auth: impl Fn(&mut shop_auth::AuthSettings),
        adjust: impl FnOnce(&mut shop_order::Settings),
    ) -> Self {
        let mut shop = TestShop::new().await;
        let user = shop.user(user).await;
        let admin_token = shop_test_services::admin(&user, "admin@example.com").await;
        let (customer_id, customer_token) =
            shop_test_services::customer(&user, "ann@example.com").await;
        let inventory = shop.inventory(&user, |s| peers_auth(&mut s.auth)).await;
        let payment = shop.payment(&user, |s| peers_auth(&mut s.auth)).await;
        let order = shop.order(&user, &inventory, &payment, adjust).await;
        Self {
            shop,
            user,
            inventory,
            payment,
            order,
            admin_token,
            customer_id,
            customer_token,
        }
    }

    pub async fn orders(&self) -> OrderServiceClient<Channel> {
        OrderServiceClient::new(self.order.channel().await)
    }

    /// Creates a product with `stock` units at `price_minor`; returns its id.
    pub async fn product(&self, stock: i64, price_minor: i64) -> String {
        InventoryServiceClient::new(self.inventory.channel().await)
            .create_product(authed(
                inventory_pb::CreateProductRequest {
                    request_id: Uuid::now_v7().to_string(),
                    name: format!("Product {}", Uuid::now_v7().simple()),
                    description: String::new(),
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

    /// Ann's address in Dublin: standard shipping costs 4.95 EUR below 50.00 EUR.
    pub fn address() -> pb::ShippingAddress {
        pb::ShippingAddress {
            name: "Ann Reader".to_owned(),
            line1: "1 Crab Lane".to_owned(),
            line2: String::new(),
            city: "Dublin".to_owned(),
            postal_code: "D02 X285".to_owned(),
            country: "IE".to_owned(),
        }
    }

    pub fn place_request(
        key: &str,
        product: &str,
        quantity: i64,
        card: &str,
    ) -> pb::PlaceOrderRequest {
        pb::PlaceOrderRequest {
            idempotency_key: key.to_owned(),
            lines: vec![pb::PlaceOrderLine {
                product_id: product.to_owned(),
                quantity,
            }],
            card_token: card.to_owned(),
            shipping_address: Some(Self::address()),
            shipping_method: pb::ShippingMethod::Standard.into(),
            expected_total: None,
        }
    }

    /// A validated order request for `quantity` of `product`, as the use case takes it.
    pub fn order_request(product: &str, quantity: i64) -> shop_order::domain::OrderRequest {
        let lines = [(product.to_owned(), quantity)];
        shop_order::domain::OrderRequest::parse(&shop_order::domain::PlaceInput {
            idempotency_key: &Uuid::now_v7().to_string(),
            lines: &lines,
            card_token: "tok_visa",
            address: shop_order::domain::AddressInput {
                name: "Ann Reader",
                line1: "1 Crab Lane",
                line2: "",
                city: "Dublin",
                postal_code: "D02 X285",
                country: "IE",
            },
            method: "standard",
            expected_total: None,
        })
        .unwrap()
    }

    pub async fn place(
        &self,
        product: &str,
        quantity: i64,
        card: &str,
    ) -> Result<pb::Order, tonic::Status> {
        self.place_with_key(&Uuid::now_v7().to_string(), product, quantity, card)
            .await
    }

    pub async fn place_with_key(
        &self,
        key: &str,
        product: &str,
        quantity: i64,
        card: &str,
    ) -> Result<pb::Order, tonic::Status> {
        self.orders()
            .await
            .place_order(authed(
                Self::place_request(key, product, quantity, card),
                &self.customer_token,
            ))
            .await
            .map(|r| r.into_inner().order.unwrap())
    }

    /// Places an order as a client is told to: an `Unavailable` answer (a peer was too slow
    /// under load) is retried with the same idempotency key, so at most one order results.
    pub async fn place_retrying(&self, product: &str, quantity: i64, card: &str) -> pb::Order {
        let key = Uuid::now_v7().to_string();
        shop_testkit::grpc::retry_unavailable(|| self.place_with_key(&key, product, quantity, card))
            .await
            .unwrap()
    }

    pub async fn get(&self, order_id: &str) -> pb::Order {
        self.orders()
            .await
            .get_order(authed(
                pb::GetOrderRequest {
                    order_id: order_id.to_owned(),
                },
                &self.customer_token,
            ))
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    /// (available, reserved, sold, received) of a product, from the inventory's database.
    pub async fn stock(&self, product: &str) -> (i64, i64, i64, i64) {
        sqlx::query_as("SELECT available, reserved, sold, received FROM product WHERE id = $1")
            .bind(Uuid::parse_str(product).unwrap())
            .fetch_one(&self.inventory.pool)
            .await
            .unwrap()
    }

    /// Waits until `check` holds, or fails after `within` with `what`.
    pub async fn eventually<F, Fut>(&self, within: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let deadline = Instant::now() + within;
        while !check().await {
            assert!(Instant::now() < deadline, "gave up waiting: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn processor(&self) -> &shop_payment::adapters::simulated_processor::SimulatedProcessor {
        &self.payment.handle.processor
    }

    pub async fn stop(self) {
        self.shop.stop().await;
    }
}
