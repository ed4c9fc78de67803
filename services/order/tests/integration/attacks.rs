//! The attacks of someone on the internal network (a container on the compose network, a port
//! of `dev-up.sh`) against the saga's steps: with no token, with a customer's token, or with
//! another service's identity. Each is refused before anything is read or written; the
//! databases (payments, reservations, stock, outbox) are exactly as they were.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use crate::support::Shop;
use shop_auth::grpc::reasons;
use shop_platform::grpc_status::reason_of;
use shop_proto::common::v1::Money;
use shop_proto::inventory::v1 as inventory_pb;
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_proto::payment::v1 as payment_pb;
use shop_proto::payment::v1::payment_service_client::PaymentServiceClient;
use shop_test_services::{authed, service_token};
use tonic::{Code, Request};
use uuid::Uuid;

/// Every row of the named tables, as text: what "nothing changed" is compared on.
async fn snapshot(pool: &sqlx::PgPool, tables: &[&'static str]) -> Vec<String> {
    let mut rows = Vec::new();
    for table in tables {
        // The names are this file's constants, never input.
        let query = sqlx::AssertSqlSafe(format!("SELECT t::text FROM {table} t ORDER BY 1"));
        let text: Vec<String> = sqlx::query_scalar(query).fetch_all(pool).await.unwrap();
        rows.push(format!("{table}: {text:?}"));
    }
    rows
}

/// The attackers: nobody, a signed-in customer, and every service but the order service.
async fn attackers(shop: &Shop) -> Vec<(&'static str, Option<String>, Code)> {
    let (_, mallory) = shop_test_services::customer(&shop.user, "mallory@example.com").await;
    let mut attackers = vec![
        ("no token", None, Code::Unauthenticated),
        ("a customer", Some(mallory), Code::PermissionDenied),
        (
            "an admin",
            Some(shop.admin_token.clone()),
            Code::PermissionDenied,
        ),
    ];
    for name in ["gateway", "user", "inventory", "payment"] {
        attackers.push((
            name,
            Some(service_token(&shop.user, name).await),
            Code::PermissionDenied,
        ));
    }
    attackers
}

fn as_<T>(message: T, token: Option<&str>) -> Request<T> {
    match token {
        Some(token) => authed(message, token),
        None => Request::new(message),
    }
}

fn assert_refused<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: Code,
    who: &str,
    what: &str,
) {
    let status = result.expect_err(&format!("{what} as {who} must be refused"));
    assert_eq!(status.code(), code, "{what} as {who}: {status:?}");
    let reason = reason_of(&status).unwrap_or_default();
    assert!(
        reasons::ALL.contains(&reason.as_str()),
        "{what} as {who} was refused by the handler, not the table: {status:?}"
    );
}

#[tokio::test]
async fn refunding_another_customers_confirmed_order_is_refused_and_moves_no_money() {
    let shop = Shop::start().await;
    let product = shop.product(5, 1_500).await;
    let order = shop.place(&product, 1, "tok_visa").await.unwrap();
    assert_eq!(
        order.status(),
        shop_proto::order::v1::OrderStatus::Confirmed
    );
    let tables = ["payment", "outbox"];
    let before = snapshot(&shop.payment.pool, &tables).await;

    let mut payments = PaymentServiceClient::new(shop.payment.channel().await);
    for (who, token, code) in attackers(&shop).await {
        let refund = payment_pb::RefundRequest {
            order_id: order.id.clone(),
            reason: "mine now".to_owned(),
        };
        assert_refused(
            payments.refund(as_(refund, token.as_deref())).await,
            code,
            who,
            "Refund",
        );
    }

    assert_eq!(snapshot(&shop.payment.pool, &tables).await, before);
    assert_eq!(
        shop.get(&order.id).await.status(),
        shop_proto::order::v1::OrderStatus::Confirmed
    );
    shop.stop().await;
}

#[tokio::test]
async fn charging_a_random_order_to_someone_else_is_refused_and_records_nothing() {
    let shop = Shop::start().await;
    let tables = ["payment", "outbox"];
    let before = snapshot(&shop.payment.pool, &tables).await;

    let mut payments = PaymentServiceClient::new(shop.payment.channel().await);
    for (who, token, code) in attackers(&shop).await {
        let charge = payment_pb::ChargeRequest {
            order_id: Uuid::now_v7().to_string(),
            user_id: shop.customer_id.clone(),
            amount: Some(Money {
                amount_minor: 99_900,
                currency: "EUR".to_owned(),
            }),
            card_token: "tok_visa".to_owned(),
        };
        assert_refused(
            payments.charge(as_(charge, token.as_deref())).await,
            code,
            who,
            "Charge",
        );
    }

    assert_eq!(snapshot(&shop.payment.pool, &tables).await, before);
    shop.stop().await;
}

#[tokio::test]
async fn reserving_the_whole_stock_or_releasing_a_live_reservation_is_refused() {
    let shop = Shop::start().await;
    let product = shop.product(7, 1_000).await;
    // A reservation the order service really holds, for an order in flight.
    let held = Uuid::now_v7().to_string();
    let order_service = service_token(&shop.user, "order").await;
    let mut inventory = InventoryServiceClient::new(shop.inventory.channel().await);
    inventory
        .reserve_stock(authed(
            inventory_pb::ReserveStockRequest {
                order_id: held.clone(),
                lines: vec![inventory_pb::ReservationLine {
                    product_id: product.clone(),
                    quantity: 2,
                }],
            },
            &order_service,
        ))
        .await
        .unwrap();
    let tables = ["product", "reservation", "reservation_line", "outbox"];
    // The reservation's announcement is published (its outbox row marked) first, so that the
    // relay's work is not mistaken for an attacker's.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let unpublished: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                .fetch_one(&shop.inventory.pool)
                .await
                .unwrap();
        if unpublished == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the relay did not publish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = snapshot(&shop.inventory.pool, &tables).await;

    for (who, token, code) in attackers(&shop).await {
        let hoard = inventory_pb::ReserveStockRequest {
            order_id: Uuid::now_v7().to_string(),
            lines: vec![inventory_pb::ReservationLine {
                product_id: product.clone(),
                quantity: 5,
            }],
        };
        assert_refused(
            inventory.reserve_stock(as_(hoard, token.as_deref())).await,
            code,
            who,
            "ReserveStock",
        );
        let release = inventory_pb::ReleaseReservationRequest {
            order_id: held.clone(),
        };
        assert_refused(
            inventory
                .release_reservation(as_(release, token.as_deref()))
                .await,
            code,
            who,
            "ReleaseReservation",
        );
    }

    assert_eq!(snapshot(&shop.inventory.pool, &tables).await, before);
    assert_eq!(shop.stock(&product).await, (5, 2, 0, 7));
    shop.stop().await;
}

#[tokio::test]
async fn a_forged_service_token_is_refused() {
    let shop = Shop::start().await;
    // Signed by a key of the attacker's own, claiming to be the order service.
    let settings = shop_auth::AuthSettings::default();
    let pair = shop_auth::keys::generate().unwrap();
    let forger = shop_auth::TokenSigner::new("k-forged", &pair.private_pkcs8_der, &settings);
    let forged = forger
        .sign_service("order", std::time::Duration::from_secs(600))
        .unwrap()
        .token;
    let mut payments = PaymentServiceClient::new(shop.payment.channel().await);
    let status = payments
        .refund(authed(
            payment_pb::RefundRequest {
                order_id: Uuid::now_v7().to_string(),
                reason: String::new(),
            },
            &forged,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert_eq!(reason_of(&status).as_deref(), Some(reasons::TOKEN_INVALID));
    shop.stop().await;
}
