//! The whole shop end to end: the five binaries as processes on real Postgres, Redis and
//! RabbitMQ, driven only through the public API with shop-client, as a customer would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::{Duration, Instant};

use shop_client::{NewOrder, NewOrderItem, Order, Product, ShopClient};
use shop_system_tests::SystemShop;

const PASSWORD: &str = "a long enough passphrase";

/// Registers `email` and returns a client signed in as them.
async fn customer(shop: &SystemShop, email: &str) -> ShopClient {
    let client = shop.client();
    client.register(email, PASSWORD, "Customer").await.unwrap();
    let tokens = client.login(email, PASSWORD).await.unwrap();
    client.with_token(&tokens.access_token)
}

/// A seeded product with at least `stock` units available.
async fn product_with_stock(client: &ShopClient, stock: i64) -> Product {
    let page = client.list_products(None, Some(50), None).await.unwrap();
    page.items
        .into_iter()
        .find(|p| p.active && p.available >= stock)
        .expect("the demo catalog has stock")
}

fn order_of(product: &Product, quantity: i64, card: &str) -> NewOrder {
    NewOrder {
        items: Some(vec![NewOrderItem {
            product_id: product.id.clone(),
            quantity,
        }]),
        card_token: card.to_owned(),
        shipping_address: shop_system_tests::dublin(),
        shipping_method: "standard".to_owned(),
        expected_total: None,
    }
}

/// Polls the order until `done` holds (events arrive asynchronously).
async fn wait_for_order(client: &ShopClient, id: &str, done: impl Fn(&Order) -> bool) -> Order {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let order = client.get_order(id).await.unwrap();
        if done(&order) {
            return order;
        }
        assert!(
            Instant::now() < deadline,
            "order never got there: {order:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn available(client: &ShopClient, product: &Product) -> i64 {
    client.get_product(&product.id).await.unwrap().available
}

#[tokio::test]
async fn a_customer_buys_retries_safely_cancels_and_sees_the_refund() {
    let shop = SystemShop::start().await.unwrap();
    let anonymous = shop.client();
    let product = product_with_stock(&anonymous, 3).await;
    let before = product.available;

    let ann = customer(&shop, "ann@example.com").await;
    assert_eq!(ann.me().await.unwrap().email, "ann@example.com");

    let placed = ann
        .place_order("checkout-1", &order_of(&product, 2, "tok_visa"))
        .await
        .unwrap();
    assert!(placed.finished, "checkout finished within the request");
    let order = placed.order;
    assert_eq!(order.status, "CONFIRMED", "{order:?}");
    // The charge is the lines and shipping to Dublin (standard: 4.95 EUR, free from 50.00).
    let subtotal = product.price.amount_minor * 2;
    let shipping = if subtotal >= 5_000 { 0 } else { 495 };
    assert_eq!(order.subtotal.clone().unwrap().amount_minor, subtotal);
    assert_eq!(order.shipping.clone().unwrap().amount_minor, shipping);
    assert_eq!(
        order.total.clone().unwrap().amount_minor,
        subtotal + shipping
    );
    assert_eq!(order.shipping_address.as_ref().unwrap().city, "Dublin");
    assert_eq!(order.shipping_method.as_deref(), Some("standard"));
    assert_eq!(available(&anonymous, &product).await, before - 2);

    // The same request again (a client that lost the answer): the same order, charged once.
    let again = ann
        .place_order("checkout-1", &order_of(&product, 2, "tok_visa"))
        .await
        .unwrap();
    assert_eq!(again.order.id, order.id);
    assert_eq!(available(&anonymous, &product).await, before - 2);
    let mine = ann.list_orders(None, None).await.unwrap();
    assert_eq!(mine.items.len(), 1, "{mine:?}");

    // Cancel: the order says so at once; the restock and the refund follow as events.
    let cancelled = ann
        .cancel_order(&order.id, "changed my mind")
        .await
        .unwrap();
    assert_eq!(cancelled.status, "CANCELLED");
    let refunded = wait_for_order(&ann, &order.id, |o| {
        o.timeline.iter().any(|entry| entry.event == "refunded")
    })
    .await;
    let events: Vec<&str> = refunded.timeline.iter().map(|e| e.event.as_str()).collect();
    assert!(events.contains(&"cancelled"), "{events:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while available(&anonymous, &product).await != before {
        assert!(Instant::now() < deadline, "stock never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    shop.stop().await.unwrap();
}

/// The ledger once the shop has settled (refunds and restocks arrive as events).
async fn settled_ledger(shop: &SystemShop) -> shop_system_tests::Ledger {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ledger = shop.ledger(&[]).await.unwrap();
        if ledger.balances() {
            return ledger;
        }
        assert!(
            Instant::now() < deadline,
            "the books never balanced: {ledger:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn the_ledger_balances_and_catches_a_skipped_refund_or_a_double_restock() {
    let shop = SystemShop::start().await.unwrap();
    let anonymous = shop.client();
    let product = product_with_stock(&anonymous, 3).await;
    let bo = customer(&shop, "bo@example.com").await;
    let kept = bo
        .place_order("kept", &order_of(&product, 1, "tok_visa"))
        .await
        .unwrap()
        .order;
    let cancelled = bo
        .place_order("cancelled", &order_of(&product, 2, "tok_visa"))
        .await
        .unwrap()
        .order;
    bo.cancel_order(&cancelled.id, "changed my mind")
        .await
        .unwrap();
    let declined = bo
        .place_order("declined", &order_of(&product, 1, "tok_declined"))
        .await
        .unwrap()
        .order;
    assert_eq!(
        (kept.status.as_str(), declined.status.as_str()),
        ("CONFIRMED", "REJECTED")
    );
    let ledger = settled_ledger(&shop).await;
    assert_eq!(ledger.orders.get("CONFIRMED"), Some(&1), "{ledger:?}");
    assert_eq!(ledger.orders.get("CANCELLED"), Some(&1), "{ledger:?}");
    assert_eq!(ledger.payments.get("REFUNDED"), Some(&1), "{ledger:?}");

    // Planted defects, one at a time: the ledger must name each, or it proves nothing.
    let payments = &shop.database("payment").pool;
    let inventory = &shop.database("inventory").pool;
    let skip_refund = "UPDATE payment SET status = 'CAPTURED' WHERE order_id = $1::uuid";
    let restore_refund = "UPDATE payment SET status = 'REFUNDED' WHERE order_id = $1::uuid";
    sqlx::query(skip_refund)
        .bind(&cancelled.id)
        .execute(payments)
        .await
        .unwrap();
    let skipped = shop.ledger(&[]).await.unwrap();
    assert_eq!(
        skipped.violations,
        [format!(
            "the payment of order {} is captured but the order is CANCELLED",
            cancelled.id
        )]
    );
    sqlx::query(restore_refund)
        .bind(&cancelled.id)
        .execute(payments)
        .await
        .unwrap();

    // The cancelled order's restock applied twice: a unit moves from sold to available again.
    let restock_again = "UPDATE product SET available = available + 1, sold = sold - 1 \
                         WHERE id = $1::uuid";
    sqlx::query(restock_again)
        .bind(&product.id)
        .execute(inventory)
        .await
        .unwrap();
    let doubled = shop.ledger(&[]).await.unwrap();
    assert_eq!(doubled.violations.len(), 1, "{doubled:?}");
    assert!(
        doubled.violations[0].contains("0 sold but 1 in orders that kept them"),
        "{doubled:?}"
    );
    sqlx::query(
        "UPDATE product SET available = available - 1, sold = sold + 1 WHERE id = $1::uuid",
    )
    .bind(&product.id)
    .execute(inventory)
    .await
    .unwrap();
    assert!(shop.ledger(&[]).await.unwrap().balances());
    shop.stop().await.unwrap();
}

#[tokio::test]
async fn checkout_rejects_what_is_out_of_stock_and_a_declined_card_and_holds_nothing() {
    let shop = SystemShop::start().await.unwrap();
    let bob = customer(&shop, "bob@example.com").await;
    let product = product_with_stock(&bob, 1).await;

    let too_many = bob
        .place_order(
            "too-many",
            &order_of(&product, product.available + 1, "tok_visa"),
        )
        .await
        .unwrap();
    assert_eq!(too_many.order.status, "REJECTED");
    assert_eq!(too_many.order.reason, "out_of_stock");

    let declined = bob
        .place_order("declined", &order_of(&product, 1, "tok_declined"))
        .await
        .unwrap();
    assert_eq!(declined.order.status, "REJECTED");
    assert_eq!(declined.order.reason, "payment_declined");

    // Neither order holds stock: the declined one released its reservation.
    assert_eq!(available(&bob, &product).await, product.available);

    shop.stop().await.unwrap();
}

#[tokio::test]
async fn a_customer_never_sees_another_customers_order_and_an_admin_sees_both() {
    let shop = SystemShop::start().await.unwrap();
    let ann = customer(&shop, "ann@example.com").await;
    let eve = customer(&shop, "eve@example.com").await;
    let product = product_with_stock(&ann, 1).await;
    let order = ann
        .place_order("ann-1", &order_of(&product, 1, "tok_mastercard"))
        .await
        .unwrap()
        .order;

    let err = eve.get_order(&order.id).await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(404),
        "not 403: its existence is not revealed"
    );
    assert!(eve.list_orders(None, None).await.unwrap().items.is_empty());
    let err = eve.cancel_order(&order.id, "mischief").await.unwrap_err();
    assert_eq!(err.status(), Some(404));

    let admin = shop.admin("admin@example.com").await.unwrap();
    assert_eq!(admin.get_order(&order.id).await.unwrap().id, order.id);

    shop.stop().await.unwrap();
}

#[tokio::test]
async fn a_client_hammering_login_is_rate_limited_with_a_problem() {
    let shop = SystemShop::start().await.unwrap();
    let client = shop.client();
    let mut limited = None;
    for attempt in 1..=40 {
        match client.login("nobody@example.com", "wrong password").await {
            Err(err) if err.status() == Some(429) => {
                limited = Some((attempt, err));
                break;
            }
            Err(err) => assert_eq!(err.status(), Some(401), "{err}"),
            Ok(_) => panic!("a wrong password logged in"),
        }
    }
    let (attempt, err) = limited.expect("no 429 within 40 logins");
    assert_eq!(err.problem_type(), Some("rate-limited"), "{err}");
    assert!(
        attempt > 5,
        "the burst allows a few tries first (limited at {attempt})"
    );

    // Browsing is a different budget: still open.
    client.list_products(None, Some(5), None).await.unwrap();

    shop.stop().await.unwrap();
}

#[tokio::test]
async fn a_processor_answer_that_comes_too_late_costs_one_timeout_not_a_lease() {
    let shop = SystemShop::start().await.unwrap();
    let product = product_with_stock(&shop.client(), 1).await;
    let tim = customer(&shop, "tim@example.com").await;

    // tok_timeout: the processor's first answer comes after payment's 2 s provider timeout.
    let started = Instant::now();
    let placed = tim
        .place_order("late-answer", &order_of(&product, 1, "tok_timeout"))
        .await
        .unwrap();
    let order = wait_for_order(&tim, &placed.order.id, Order::is_settled).await;
    let took = started.elapsed();
    println!("tok_timeout checkout: {} after {took:?}", order.status);
    assert_eq!(order.status, "CONFIRMED", "{order:?}");
    // The saga's payment calls outlast the processor's timeout, and a charge whose caller gave
    // up still releases its lease: one timeout, then the retry. When the step gave up with the
    // processor and every retry waited out the payment's lease, this took 10 to 13 s.
    assert!(took < Duration::from_secs(8), "took {took:?}");
    let (ledger, _) = shop
        .ledger_when_balanced(&[], Duration::from_secs(30))
        .await
        .unwrap();
    assert!(ledger.violations.is_empty(), "{:?}", ledger.violations);
    shop.stop().await.unwrap();
}
