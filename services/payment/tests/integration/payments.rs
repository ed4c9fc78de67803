//! Charges and refunds through gRPC on real Postgres and RabbitMQ, against the simulated card
//! processor, whose own ledger is the witness that money moved exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::time::{Duration, Instant};

use crate::support::Bed;
use shop_events::Envelope;
use shop_events::order::OrderCancelled;
use shop_messaging::OutboxWriter;
use shop_proto::payment::v1 as pb;
use shop_test_services::authed;
use tonic::Code;
use uuid::Uuid;

#[tokio::test]
async fn fifty_concurrent_charges_of_one_order_capture_once_and_all_get_the_same_answer() {
    let bed = Bed::new().await;
    let order = Uuid::now_v7();
    let attempts = (0..50).map(|_| bed.charge(order, 4999, "tok_visa"));
    let outcomes = futures::future::join_all(attempts).await;

    let payments: Vec<pb::Payment> = outcomes.into_iter().map(Result::unwrap).collect();
    assert!(
        payments
            .iter()
            .all(|p| p.status() == pb::PaymentStatus::Captured)
    );
    assert!(
        payments.iter().all(|p| p.id == payments[0].id),
        "one payment for the order"
    );
    let processor = &bed.payment.handle.processor;
    assert_eq!(processor.total_captures(), 1, "the processor captured once");
    assert!(processor.entry(order).await.unwrap().unwrap().captured);
    bed.shop.stop().await;
}

#[tokio::test]
async fn a_declined_card_is_an_outcome_not_an_error_and_holds_nothing() {
    let bed = Bed::new().await;
    let order = Uuid::now_v7();
    let declined = bed.charge(order, 1000, "tok_declined").await.unwrap();
    assert_eq!(declined.status(), pb::PaymentStatus::Declined);
    assert_eq!(declined.failure_reason, "card_declined");
    assert!(
        bed.payment
            .handle
            .processor
            .entry(order)
            .await
            .unwrap()
            .is_none()
    );
    let again = bed.charge(order, 1000, "tok_declined").await.unwrap();
    assert_eq!(
        again.id, declined.id,
        "a retry returns the original outcome"
    );

    let poor = bed
        .charge(Uuid::now_v7(), 1000, "tok_insufficient_funds")
        .await
        .unwrap();
    assert_eq!(poor.failure_reason, "insufficient_funds");
    bed.shop.stop().await;
}

#[tokio::test]
async fn a_processor_timeout_on_the_first_attempt_then_success_captures_once() {
    let bed = Bed::with(|s| s.provider.timeout = Duration::from_millis(200)).await;
    let order = Uuid::now_v7();
    let paid = bed.charge(order, 2500, "tok_timeout").await.unwrap();
    assert_eq!(paid.status(), pb::PaymentStatus::Captured);
    let processor = &bed.payment.handle.processor;
    assert_eq!(processor.total_captures(), 1);
    assert_eq!(
        processor.entry(order).await.unwrap().unwrap().reference,
        paid.provider_reference,
        "the retry found the first authorization"
    );
    bed.shop.stop().await;
}

#[tokio::test]
async fn a_transient_processing_error_is_retried() {
    let bed = Bed::new().await;
    let paid = bed
        .charge(Uuid::now_v7(), 700, "tok_processing_error")
        .await
        .unwrap();
    assert_eq!(paid.status(), pb::PaymentStatus::Captured);
    bed.shop.stop().await;
}

#[tokio::test]
async fn the_same_order_with_another_amount_is_refused() {
    let bed = Bed::new().await;
    let order = Uuid::now_v7();
    bed.charge(order, 1000, "tok_visa").await.unwrap();
    let err = bed.charge(order, 1001, "tok_visa").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    bed.shop.stop().await;
}

#[tokio::test]
async fn refunding_twice_refunds_once_and_announces_once() {
    let bed = Bed::new().await;
    let order = Uuid::now_v7();
    bed.charge(order, 1999, "tok_visa").await.unwrap();
    let first = bed.refund(order).await;
    let second = bed.refund(order).await;
    assert_eq!(first.status(), pb::PaymentStatus::Refunded);
    assert_eq!(second.status(), pb::PaymentStatus::Refunded);
    assert_eq!(bed.payment.handle.processor.total_refunds(), 1);
    assert_eq!(bed.refunded_events(order).await, 1);
    bed.shop.stop().await;
}

#[tokio::test]
async fn compensating_an_order_that_never_took_money_changes_nothing() {
    let bed = Bed::new().await;
    let declined = Uuid::now_v7();
    bed.charge(declined, 1000, "tok_declined").await.unwrap();
    assert_eq!(
        bed.refund(declined).await.status(),
        pb::PaymentStatus::Declined
    );
    assert_eq!(bed.refunded_events(declined).await, 0);
    let unknown = bed.try_refund(Uuid::now_v7()).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    bed.shop.stop().await;
}

#[tokio::test]
async fn order_cancelled_delivered_twice_refunds_once() {
    let bed = Bed::new().await;
    let order = Uuid::now_v7();
    bed.charge(order, 2999, "tok_visa").await.unwrap();

    let envelope: Envelope<OrderCancelled> = OutboxWriter::new("order").envelope(OrderCancelled {
        order_id: order,
        user_id: Uuid::parse_str(&bed.customer.0).unwrap(),
        reason: "customer request".to_owned(),
        cancelled_at: chrono::Utc::now(),
    });
    let connection = lapin::Connection::connect(
        bed.shop.amqp.url.expose(),
        lapin::ConnectionProperties::default(),
    )
    .await
    .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(lapin::options::ConfirmSelectOptions::default())
        .await
        .unwrap();
    for _ in 0..2 {
        channel
            .basic_publish(
                bed.shop.amqp.exchange.clone().into(),
                "order.cancelled".into(),
                lapin::options::BasicPublishOptions::default(),
                &serde_json::to_vec(&envelope).unwrap(),
                lapin::BasicProperties::default()
                    .with_message_id(envelope.id.to_string().into())
                    .with_type("order.cancelled".into()),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    let deadline = Instant::now() + Duration::from_secs(15);
    while bed.payment.handle.processor.total_refunds() == 0 {
        assert!(Instant::now() < deadline, "the cancellation never refunded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bed.payment.handle.processor.total_refunds(), 1);
    assert_eq!(bed.refunded_events(order).await, 1);
    bed.shop.stop().await;
}

#[tokio::test]
async fn only_the_orders_owner_or_an_admin_reads_its_payment() {
    let bed = Bed::new().await;
    let order = Uuid::now_v7();
    bed.charge(order, 1500, "tok_visa").await.unwrap();
    let request = || pb::GetPaymentRequest {
        order_id: order.to_string(),
    };

    let own = bed
        .client()
        .await
        .get_payment(authed(request(), &bed.customer.1))
        .await
        .unwrap();
    assert_eq!(
        own.into_inner().payment.unwrap().status(),
        pb::PaymentStatus::Captured
    );
    bed.client()
        .await
        .get_payment(authed(request(), &bed.admin_token))
        .await
        .unwrap();
    let anonymous = bed.client().await.get_payment(request()).await.unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    bed.shop.stop().await;
}

#[tokio::test]
async fn a_card_number_where_a_token_belongs_is_invalid_argument() {
    let bed = Bed::new().await;
    let err = bed
        .charge(Uuid::now_v7(), 100, "4242424242424242")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    bed.shop.stop().await;
}

/// Charges new orders until one comes out as `wanted` (captured or not), within `within`.
async fn until_charges(bed: &Bed, captured: bool, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let outcome = bed.charge(Uuid::now_v7(), 1000, "tok_visa").await;
        match &outcome {
            Ok(payment) if captured => {
                assert_eq!(payment.status(), pb::PaymentStatus::Captured);
                return started.elapsed();
            }
            Err(status) if !captured => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                return started.elapsed();
            }
            _ => {}
        }
        assert!(
            started.elapsed() < within,
            "charges never changed: still {outcome:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn flipping_the_failure_flag_in_the_file_changes_charges_within_seconds_without_a_restart() {
    let flags = shop_testkit::FlagFile::new();
    let file = flags.setting();
    let bed = Bed::with(move |s| {
        s.flags.file = file;
        s.provider.attempts = 1;
    })
    .await;
    until_charges(&bed, true, Duration::ZERO).await;

    flags.set(&[("payment-failure-rate", "all")]).unwrap();
    let failing = until_charges(&bed, false, Duration::from_secs(10)).await;
    flags.set(&[("payment-failure-rate", "off")]).unwrap();
    let recovered = until_charges(&bed, true, Duration::from_secs(10)).await;
    println!("failing after {failing:?}, charging again after {recovered:?}");
}

#[tokio::test]
async fn the_processors_ledger_survives_a_restart_and_is_shared_by_replicas() {
    use shop_payment::adapters::simulated_processor::{ProcessorBehaviour, SimulatedProcessor};
    use shop_payment::app::ports::ProcessorPort as _;
    use shop_payment::domain::CardToken;

    let db = shop_testkit::TestDatabase::create(&[&shop_payment::startup::MIGRATOR]).await;
    let behaviour = ProcessorBehaviour {
        latency: Duration::ZERO,
        failure_rate: 0.0,
        timeout: Duration::from_secs(2),
    };
    let order = Uuid::now_v7();
    let amount = shop_events::Money::new(1999, "EUR").unwrap();
    let card = CardToken::parse("tok_visa").unwrap();

    let charged_by = SimulatedProcessor::new(behaviour).with_store(db.pool.clone());
    charged_by.sale(order, &amount, &card).await.unwrap();
    drop(charged_by);

    // Another process (a restart, or another replica) refunds what the first one captured.
    let refunded_by = SimulatedProcessor::new(behaviour).with_store(db.pool.clone());
    refunded_by.refund(order).await.unwrap();
    let entry = refunded_by.entry(order).await.unwrap().unwrap();
    assert!(entry.captured && entry.refunded, "{entry:?}");
    // Without the store, a new process would not know the authorization at all.
    let forgetful = SimulatedProcessor::new(behaviour);
    assert!(forgetful.refund(order).await.is_err());
}

/// With a store, the processor's memory holds an authorization only while something runs on
/// it: a thousand sales leave nothing behind in memory, all of them stored; a sale whose write
/// failed stays in memory until a retry stores it, and is counted once.
#[tokio::test]
async fn the_processors_memory_holds_only_what_is_in_flight() {
    use shop_payment::adapters::simulated_processor::{ProcessorBehaviour, SimulatedProcessor};
    use shop_payment::app::ports::ProcessorPort as _;
    use shop_payment::domain::CardToken;

    let db = shop_testkit::TestDatabase::create(&[&shop_payment::startup::MIGRATOR]).await;
    let processor = SimulatedProcessor::new(ProcessorBehaviour {
        latency: Duration::ZERO,
        failure_rate: 0.0,
        timeout: Duration::from_secs(2),
    })
    .with_store(db.pool.clone());
    let amount = shop_events::Money::new(1999, "EUR").unwrap();
    let card = CardToken::parse("tok_visa").unwrap();

    let orders: Vec<Uuid> = (0..1000).map(|_| Uuid::now_v7()).collect();
    let sales = orders
        .iter()
        .map(|order| processor.sale(*order, &amount, &card));
    for outcome in futures::future::join_all(sales).await {
        outcome.unwrap();
    }
    assert_eq!(
        processor.held(),
        0,
        "nothing left in memory after the sales"
    );
    assert_eq!(processor.total_captures(), 1000);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM simulated_processor_ledger WHERE captured")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(stored, 1000);
    processor.refund(orders[0]).await.unwrap();
    assert!(processor.entry(orders[0]).await.unwrap().unwrap().refunded);
    assert_eq!(processor.held(), 0);

    // A write that fails: the sale is applied in memory and kept there.
    sqlx::query(
        "ALTER TABLE simulated_processor_ledger ADD CONSTRAINT refuse CHECK (false) NOT VALID",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let unlucky = Uuid::now_v7();
    assert!(processor.sale(unlucky, &amount, &card).await.is_err());
    assert_eq!(processor.held(), 1, "an unstored sale stays in memory");
    sqlx::query("ALTER TABLE simulated_processor_ledger DROP CONSTRAINT refuse")
        .execute(&db.pool)
        .await
        .unwrap();
    processor.sale(unlucky, &amount, &card).await.unwrap();
    assert_eq!(processor.held(), 0, "stored by the retry, then let go");
    assert_eq!(
        processor.total_captures(),
        1001,
        "the retry did not capture again"
    );
    assert!(processor.entry(unlucky).await.unwrap().unwrap().captured);
}

/// A payment an earlier version left AUTHORIZED (it authorized and captured in two calls and
/// stopped in between) is captured, not sold again, by the next Charge: the capture's write
/// moves AUTHORIZED to CAPTURED with the authorization's reference.
#[tokio::test]
async fn a_payment_an_earlier_version_left_authorized_is_captured_once_with_its_reference() {
    let bed = Bed::new().await;
    let order = Uuid::now_v7();
    let pool = &bed.payment.pool;
    sqlx::query(
        "INSERT INTO simulated_processor_ledger (key, reference, amount_minor, currency) \
         VALUES ($1, 'auth_earlier', 2500, 'EUR')",
    )
    .bind(order)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO payment (id, order_id, user_id, status, amount_minor, currency, \
         provider_reference) VALUES ($1, $2, $3, 'AUTHORIZED', 2500, 'EUR', 'auth_earlier')",
    )
    .bind(Uuid::now_v7())
    .bind(order)
    .bind(Uuid::parse_str(&bed.customer.0).unwrap())
    .execute(pool)
    .await
    .unwrap();

    let paid = bed.charge(order, 2500, "tok_visa").await.unwrap();
    assert_eq!(paid.status(), pb::PaymentStatus::Captured);
    assert_eq!(paid.provider_reference, "auth_earlier");
    let stored: (String, Option<String>) =
        sqlx::query_as("SELECT status, provider_reference FROM payment WHERE order_id = $1")
            .bind(order)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(
        stored,
        ("CAPTURED".to_owned(), Some("auth_earlier".to_owned()))
    );
    let processor = &bed.payment.handle.processor;
    assert!(processor.entry(order).await.unwrap().unwrap().captured);
    assert_eq!(processor.total_captures(), 1, "captured, not sold again");

    let again = bed.charge(order, 2500, "tok_visa").await.unwrap();
    assert_eq!(again.id, paid.id);
    assert_eq!(processor.total_captures(), 1);
    bed.shop.stop().await;
}
