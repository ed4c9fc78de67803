//! The fault suite's short profile, and the scenario that made recovery scale: the payment
//! service killed while charges are in flight.
//!
//! Disruptive: it stops and starts the machine's RabbitMQ application, so scripts/test.sh runs
//! binaries named `disruptive_*` on their own, after everything else.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::Duration;

use shop_chaos::Profile;
use shop_client::{NewOrder, NewOrderItem};
use shop_system_tests::{Options, Service, SystemShop};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_is_recovered_from_and_the_ledger_balances_afterwards() {
    let report = shop_chaos::run(&Profile::short()).await.unwrap();
    println!("{}", report.table());
    assert!(report.violations.is_empty(), "{}", report.table());
    for row in &report.rows {
        assert!(
            row.recovery.is_some(),
            "{} was not recovered from:\n{}",
            row.fault,
            report.table()
        );
    }
    assert!(
        report.total.attempted > 50,
        "too little load:\n{}",
        report.table()
    );
    assert_eq!(report.total.no_order, 0, "{}", report.table());
    assert!(
        report.total.good_confirmed_percent() >= 95.0,
        "{}",
        report.table()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_payment_service_mid_charge_confirms_the_good_cards_once_it_is_back() {
    const CHECKOUTS: usize = 20;
    let mut shop = SystemShop::start_with_options(Options {
        gateway_extra: vec![("SHOP_RATE_LIMIT__ENABLED", "false".to_owned())],
        fault_points: true,
        ..Options::default()
    })
    .await
    .unwrap();
    let products = shop.stock_up("mid-charge-admin@example.com").await.unwrap();
    let customer = shop.client();
    customer
        .register(
            "mid-charge@example.com",
            "a long passphrase here",
            "Mid Charge",
        )
        .await
        .unwrap();
    let token = customer
        .login("mid-charge@example.com", "a long passphrase here")
        .await
        .unwrap()
        .access_token;
    let customer = customer.with_token(&token);

    // Every charge takes 1.5 s at the processor, so those begun are still in flight at the kill.
    let faults = shop.faults.as_ref().unwrap();
    faults.set_flags(&[("payment-latency-ms", "slow")]).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let placing: Vec<_> = (0..CHECKOUTS)
        .map(|i| {
            let customer = customer.clone();
            let order = NewOrder {
                items: Some(vec![NewOrderItem {
                    product_id: products[i % products.len()].clone(),
                    quantity: 1,
                }]),
                card_token: "tok_visa".to_owned(),
                shipping_address: shop_system_tests::dublin(),
                shipping_method: "standard".to_owned(),
                expected_total: None,
            };
            tokio::spawn(async move {
                customer
                    .place_order(&format!("mid-charge-{i}"), &order)
                    .await
                    .map(|placed| placed.order.id)
            })
        })
        .collect();
    // Killed once charges are in flight, however long the checkouts take to reach payment
    // (about a second with debug binaries on a busy 2-core machine; a fixed wait guessed).
    let waiting = std::time::Instant::now();
    let in_flight: i64 = loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM payment WHERE status = 'PENDING'")
                .fetch_one(&shop.database("payment").pool)
                .await
                .unwrap();
        if pending > 0 || waiting.elapsed() > Duration::from_secs(15) {
            break pending;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let reached_payment = waiting.elapsed();
    shop.kill(Service::Payment).await.unwrap();
    shop.faults
        .as_ref()
        .unwrap()
        .set_flags(&[("payment-latency-ms", "off")])
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    shop.restart(Service::Payment).await.unwrap();

    let mut ids = Vec::new();
    for placing in placing {
        ids.push(
            placing
                .await
                .unwrap()
                .expect("every checkout is answered with its order"),
        );
    }
    let orders = &shop.database("order").pool;
    let deadline = std::time::Instant::now() + Duration::from_secs(150);
    let statuses: Vec<String> = loop {
        let statuses: Vec<String> =
            sqlx::query_scalar("SELECT status FROM orders WHERE id::text = ANY($1)")
                .bind(&ids)
                .fetch_all(orders)
                .await
                .unwrap();
        if statuses.iter().all(|s| s != "PENDING" && s != "RESERVED") {
            break statuses;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still in flight: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let confirmed = statuses.iter().filter(|s| *s == "CONFIRMED").count();
    println!(
        "{in_flight} charges in flight at the kill, {reached_payment:?} after the checkouts \
         started; {confirmed} of {CHECKOUTS} confirmed: {statuses:?}"
    );
    assert!(
        in_flight > 0,
        "no charge was in flight when payment was killed"
    );
    assert!(confirmed * 100 >= CHECKOUTS * 95, "{statuses:?}");
    // None charged twice, every capture an order's, every unit accounted for, once the
    // confirmations have reached inventory.
    let (ledger, _) = shop
        .ledger_when_balanced(&[], Duration::from_secs(60))
        .await
        .unwrap();
    assert!(ledger.violations.is_empty(), "{:?}", ledger.violations);
    shop.stop().await.unwrap();
}
