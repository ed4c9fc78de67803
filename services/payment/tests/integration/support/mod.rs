//! A payment service on real Postgres and RabbitMQ, with a signed-in customer and an admin.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // Not every test uses all of it.

use shop_proto::common::v1::Money;
use shop_proto::payment::v1 as pb;
use shop_proto::payment::v1::payment_service_client::PaymentServiceClient;
use shop_test_services::{PaymentHandle, Started, TestShop, authed};
use tonic::transport::Channel;
use uuid::Uuid;

pub struct Bed {
    pub shop: TestShop,
    pub payment: Started<PaymentHandle>,
    pub customer: (String, String),
    pub admin_token: String,
    /// The order service's token: Charge and Refund are its alone.
    pub order_token: String,
}

impl Bed {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut shop_payment::Settings)) -> Self {
        let mut shop = TestShop::new().await;
        let user = shop.user(|_| {}).await;
        let customer = shop_test_services::customer(&user, "payer@example.com").await;
        let admin_token = shop_test_services::admin(&user, "admin@example.com").await;
        let order_token = shop_test_services::service_token(&user, "order").await;
        let payment = shop.payment(&user, adjust).await;
        Self {
            shop,
            payment,
            customer,
            admin_token,
            order_token,
        }
    }

    pub async fn client(&self) -> PaymentServiceClient<Channel> {
        PaymentServiceClient::new(self.payment.channel().await)
    }

    pub fn charge_request(&self, order_id: Uuid, amount: i64, token: &str) -> pb::ChargeRequest {
        pb::ChargeRequest {
            order_id: order_id.to_string(),
            amount: Some(Money {
                amount_minor: amount,
                currency: "EUR".to_owned(),
            }),
            card_token: token.to_owned(),
            user_id: self.customer.0.clone(),
        }
    }

    pub async fn charge(
        &self,
        order_id: Uuid,
        amount: i64,
        token: &str,
    ) -> Result<pb::Payment, tonic::Status> {
        self.client()
            .await
            .charge(authed(
                self.charge_request(order_id, amount, token),
                &self.order_token,
            ))
            .await
            .map(|r| r.into_inner().payment.unwrap())
    }

    pub async fn refund(&self, order_id: Uuid) -> pb::Payment {
        self.try_refund(order_id).await.unwrap()
    }

    /// Refunds an order's payment, as the order service does.
    pub async fn try_refund(&self, order_id: Uuid) -> Result<pb::Payment, tonic::Status> {
        self.client()
            .await
            .refund(authed(
                pb::RefundRequest {
                    order_id: order_id.to_string(),
                    reason: "test".to_owned(),
                },
                &self.order_token,
            ))
            .await
            .map(|r| r.into_inner().payment.unwrap())
    }

    pub async fn refunded_events(&self, order_id: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE routing_key = 'payment.refunded' AND payload->>'subject' = $1")
            .bind(order_id.to_string())
            .fetch_one(&self.payment.pool)
            .await
            .unwrap()
    }
}
