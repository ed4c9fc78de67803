//! Crash recovery: the process driving a saga dies right after a peer acted and before the
//! order recorded it; a new process's recovery worker finishes the saga, with the invariants
//! intact. "Dies" is the driving task aborted and its service stopped, its lease left behind.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use std::sync::Arc;
use std::time::Duration;

use crate::support::Shop;
use async_trait::async_trait;
use shop_events::Money;
use shop_messaging::OutboxWriter;
use shop_order::adapters::postgres::PgOrderStore;
use shop_order::app::ports::{
    ChargeOutcome, InFlight, InventoryPort, OrderStore as _, PaymentPort, Reserved, StepError,
};
use shop_order::domain::RequestedLine;
use shop_order::startup::Peers;
use shop_proto::inventory::v1 as inventory_pb;
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use shop_test_services::authed;
use tokio::sync::Notify;
use uuid::Uuid;

/// Lets the real peer act, then never answers: the caller "dies" at exactly that point.
struct DiesAfter<P: ?Sized> {
    inner: Arc<P>,
    acted: Arc<Notify>,
}

#[async_trait]
impl<P: InventoryPort + ?Sized> InventoryPort for DiesAfter<P> {
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: &[RequestedLine],
    ) -> Result<Reserved, StepError> {
        let _ = self.inner.reserve(order_id, lines).await;
        self.acted.notify_one();
        std::future::pending().await
    }

    async fn release(&self, order_id: Uuid) -> Result<(), StepError> {
        self.inner.release(order_id).await
    }
}

#[async_trait]
impl<P: PaymentPort + ?Sized> PaymentPort for DiesAfter<P> {
    async fn charge(
        &self,
        order_id: Uuid,
        user_id: Uuid,
        amount: &Money,
        card: &str,
    ) -> Result<ChargeOutcome, StepError> {
        let _ = self.inner.charge(order_id, user_id, amount, card).await;
        self.acted.notify_one();
        std::future::pending().await
    }

    async fn refund(&self, order_id: Uuid, reason: &str) -> Result<(), StepError> {
        self.inner.refund(order_id, reason).await
    }
}

/// The real peers, but inventory reserves and then never answers (telling `acted`).
fn inventory_dies_after_reserving(acted: Arc<Notify>) -> impl FnOnce(Peers) -> Peers {
    move |real| Peers {
        catalog: real.catalog,
        inventory: Arc::new(DiesAfter {
            inner: real.inventory,
            acted,
        }),
        payment: real.payment,
    }
}

enum DieAfter {
    Reserve,
    Charge,
}

/// The settings of an order service on `shop`'s inventory and payment with saga `deadline`,
/// then `saga` applied to the rest of the saga settings.
fn on_peers<F: FnOnce(&mut shop_order::config::SagaSettings)>(
    shop: &Shop,
    deadline: Duration,
    saga: F,
) -> impl FnOnce(&mut shop_order::Settings) + use<F> {
    let (inventory, payment) = (shop.inventory.uri(), shop.payment.uri());
    move |s| {
        s.upstream.inventory = inventory;
        s.upstream.payment = payment;
        s.saga.deadline = deadline;
        saga(&mut s.saga);
    }
}

/// Places an order through an order service whose driver dies after `point`, stops that
/// service, starts a fresh one on the same database, and returns the order id and that
/// database once the recovery worker has brought the order to an end.
async fn crash_and_recover(
    shop: &mut Shop,
    product: &str,
    point: DieAfter,
    deadline: Duration,
    down_for: Duration,
) -> (Uuid, sqlx::PgPool) {
    let acted = Arc::new(Notify::new());
    let dies = acted.clone();
    let decorate = move |real: Peers| match point {
        DieAfter::Reserve => inventory_dies_after_reserving(dies)(real),
        DieAfter::Charge => Peers {
            catalog: real.catalog,
            inventory: real.inventory,
            payment: Arc::new(DiesAfter {
                inner: real.payment,
                acted: dies,
            }),
        },
    };
    let database = shop.shop.new_database().await;
    let settings = on_peers(shop, deadline, |saga| {
        saga.lease = Duration::from_secs(1);
        saga.request_budget = Duration::from_secs(30);
        // The doomed process must not recover its own order before it dies.
        saga.recovery_interval = Duration::from_secs(3600);
    });
    let doomed = shop
        .shop
        .order_on(&shop.user, database.clone(), decorate, settings)
        .await;

    let caller = shop_test_services::caller(&shop.user, &shop.customer_token).await;
    let request = Shop::order_request(product, 2);
    let orders = doomed.handle.clone();
    let placing = tokio::spawn(async move { orders.place_order(&caller, request).await });
    acted.notified().await;
    placing.abort();
    shop.shop.stop_service(doomed.addr).await;

    let order_id: Uuid = sqlx::query_scalar("SELECT id FROM orders")
        .fetch_one(&database.1)
        .await
        .unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM orders")
        .fetch_one(&database.1)
        .await
        .unwrap();
    assert!(
        status == "PENDING" || status == "RESERVED",
        "died mid-saga, found {status}"
    );
    // What the recovery worker reports as the saga backlog (orders_saga_backlog).
    let store = PgOrderStore::new(database.1.clone(), OutboxWriter::new("order"));
    let in_flight = store.in_flight().await.unwrap();
    assert_eq!(in_flight.count, 1, "the dead process's order is in flight");
    assert!(in_flight.oldest_age_seconds >= 0.0);
    tokio::time::sleep(down_for).await;

    let settings = on_peers(shop, deadline, |saga| {
        saga.recovery_interval = Duration::from_millis(100);
    });
    let restarted = shop
        .shop
        .order_on(
            &shop.user,
            database.clone(),
            std::convert::identity,
            settings,
        )
        .await;
    shop.eventually(
        Duration::from_secs(30),
        "the recovery worker ends the saga",
        || async {
            let status: String = sqlx::query_scalar("SELECT status FROM orders")
                .fetch_one(&restarted.pool)
                .await
                .unwrap();
            status == "CONFIRMED" || status == "REJECTED"
        },
    )
    .await;
    assert_eq!(
        store.in_flight().await.unwrap(),
        InFlight {
            count: 0,
            oldest_age_seconds: 0.0
        },
        "nothing is left in flight"
    );
    (order_id, database.1)
}

async fn status_of(pool: &sqlx::PgPool) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, reason FROM orders")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_driver_that_dies_after_reserving_is_recovered_to_a_confirmed_order() {
    let mut shop = Shop::start().await;
    let product = shop.product(5, 1000).await;
    let (_, pool) = crash_and_recover(
        &mut shop,
        &product,
        DieAfter::Reserve,
        Duration::from_secs(120),
        Duration::ZERO,
    )
    .await;
    assert_eq!(status_of(&pool).await.0, "CONFIRMED");
    assert_eq!(shop.processor().total_captures(), 1);
    shop.eventually(Duration::from_secs(15), "held stock sold", || async {
        shop.stock(&product).await == (3, 0, 2, 5)
    })
    .await;
    shop.stop().await;
}

/// The settings of the order replica `name` on `shop`'s peers: a 60 s lease, and a request
/// budget long enough that the doomed driver never gives its lease back itself.
fn replica(
    shop: &Shop,
    name: &'static str,
    recovery_interval: Duration,
) -> impl FnOnce(&mut shop_order::Settings) + use<> {
    on_peers(shop, Duration::from_secs(120), move |saga| {
        saga.lease = Duration::from_secs(60);
        saga.request_budget = Duration::from_secs(50);
        saga.recovery_interval = recovery_interval;
        saga.instance = Some(name.to_owned());
    })
}

/// A replica that restarts (the same `saga.instance`, as a pod keeps its name across a
/// container restart) takes back at once the saga its dead predecessor was driving, long
/// before that process's lease would expire; another replica leaves the lease alone.
#[tokio::test]
async fn a_restarted_replica_takes_back_its_dead_predecessors_saga_at_once() {
    let mut shop = Shop::start().await;
    let product = shop.product(5, 1000).await;
    let database = shop.shop.new_database().await;

    let acted = Arc::new(Notify::new());
    let dies = acted.clone();
    let settings = replica(&shop, "order-a", Duration::from_secs(3600));
    let doomed = shop
        .shop
        .order_on(
            &shop.user,
            database.clone(),
            inventory_dies_after_reserving(dies),
            settings,
        )
        .await;
    let caller = shop_test_services::caller(&shop.user, &shop.customer_token).await;
    let request = Shop::order_request(&product, 2);
    let orders = doomed.handle.clone();
    let placing = tokio::spawn(async move { orders.place_order(&caller, request).await });
    acted.notified().await;
    placing.abort();
    shop.shop.stop_service(doomed.addr).await;
    let (holder, lease_left): (Option<String>, f64) = sqlx::query_as(
        "SELECT lease_holder, extract(epoch FROM lease_until - now())::float8 FROM orders",
    )
    .fetch_one(&database.1)
    .await
    .unwrap();
    assert_eq!(holder.as_deref(), Some("order-a"));
    assert!(
        lease_left > 50.0,
        "the dead process's lease runs {lease_left} s more"
    );

    // Another replica's recovery worker sees a lease that has not expired.
    let settings = replica(&shop, "order-b", Duration::from_millis(100));
    let other = shop
        .shop
        .order_on(
            &shop.user,
            database.clone(),
            std::convert::identity,
            settings,
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, _) = status_of(&database.1).await;
    assert!(
        status == "PENDING" || status == "RESERVED",
        "another replica waits out the lease, found {status}"
    );
    shop.shop.stop_service(other.addr).await;

    // The same replica, restarted, resumes it at once.
    let settings = replica(&shop, "order-a", Duration::from_millis(100));
    let restarted = shop
        .shop
        .order_on(
            &shop.user,
            database.clone(),
            std::convert::identity,
            settings,
        )
        .await;
    shop.eventually(
        Duration::from_secs(15),
        "the restarted replica ends the saga (its old lease had 50 s more to run)",
        || async { status_of(&restarted.pool).await.0 == "CONFIRMED" },
    )
    .await;
    assert_eq!(shop.processor().total_captures(), 1);
    shop.eventually(Duration::from_secs(15), "held stock sold", || async {
        shop.stock(&product).await == (3, 0, 2, 5)
    })
    .await;
    shop.stop().await;
}

/// Lets the real inventory reserve, then holds the first answer until told to give it; later
/// calls pass straight through.
struct HoldsFirstAnswer<P: ?Sized> {
    inner: Arc<P>,
    acted: Arc<Notify>,
    answer: Arc<Notify>,
    held: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl<P: InventoryPort + ?Sized> InventoryPort for HoldsFirstAnswer<P> {
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: &[RequestedLine],
    ) -> Result<Reserved, StepError> {
        let reserved = self.inner.reserve(order_id, lines).await;
        if !self.held.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.acted.notify_one();
            self.answer.notified().await;
        }
        reserved
    }

    async fn release(&self, order_id: Uuid) -> Result<(), StepError> {
        self.inner.release(order_id).await
    }
}

/// Postgres goes away while a driver waits for a peer: the driver can neither store what the
/// peer did nor release its lease. Once Postgres answers again the lease is released, and the
/// saga is confirmed at once (charged once) instead of after the lease's 60 s.
#[tokio::test]
async fn a_driver_that_lost_its_database_hands_its_saga_on_as_soon_as_the_database_is_back() {
    let mut shop = Shop::start().await;
    let product = shop.product(5, 1000).await;
    let (url, pool) = shop.shop.new_database().await;
    let postgres = shop_testkit::proxy::TcpProxy::to_postgres().await;

    let acted = Arc::new(Notify::new());
    let answer = Arc::new(Notify::new());
    let (on_reserve, on_answer) = (acted.clone(), answer.clone());
    let decorate = move |real: Peers| Peers {
        catalog: real.catalog,
        inventory: Arc::new(HoldsFirstAnswer {
            inner: real.inventory,
            acted: on_reserve,
            answer: on_answer,
            held: std::sync::atomic::AtomicBool::new(false),
        }),
        payment: real.payment,
    };
    let settings = replica(&shop, "order-a", Duration::from_millis(100));
    let service = shop
        .shop
        .order_on(
            &shop.user,
            (postgres.url_through(&url), pool.clone()),
            decorate,
            settings,
        )
        .await;
    let caller = shop_test_services::caller(&shop.user, &shop.customer_token).await;
    let request = Shop::order_request(&product, 2);
    let orders = service.handle.clone();
    let placing = tokio::spawn(async move { orders.place_order(&caller, request).await });
    acted.notified().await;

    postgres.cut();
    answer.notify_one();
    let placed = tokio::time::timeout(Duration::from_secs(30), placing)
        .await
        .expect("the placement answers while Postgres is away")
        .unwrap();
    assert!(placed.is_err(), "nothing could be stored: {placed:?}");
    let (status, _) = status_of(&pool).await;
    assert_eq!(status, "PENDING", "the reservation was never stored");
    let held: bool =
        sqlx::query_scalar("SELECT lease_until > now() + interval '50 seconds' FROM orders")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(held, "the driver still holds its lease");

    tokio::time::sleep(Duration::from_secs(1)).await;
    postgres.restore();
    shop.eventually(
        Duration::from_secs(15),
        "the saga ends once Postgres is back (its lease had 50 s more to run)",
        || async { status_of(&pool).await.0 == "CONFIRMED" },
    )
    .await;
    assert_eq!(shop.processor().total_captures(), 1);
    shop.eventually(Duration::from_secs(15), "held stock sold", || async {
        shop.stock(&product).await == (3, 0, 2, 5)
    })
    .await;
    shop.stop().await;
}

#[tokio::test]
async fn a_driver_that_dies_after_charging_is_recovered_without_charging_twice() {
    let mut shop = Shop::start().await;
    let product = shop.product(5, 1000).await;
    let (order_id, pool) = crash_and_recover(
        &mut shop,
        &product,
        DieAfter::Charge,
        Duration::from_secs(120),
        Duration::ZERO,
    )
    .await;
    assert_eq!(status_of(&pool).await.0, "CONFIRMED");
    let entry = shop.processor().entry(order_id).await.unwrap().unwrap();
    assert!(entry.captured);
    assert_eq!(
        shop.processor().total_captures(),
        1,
        "the recovered charge found the first one"
    );
    shop.eventually(Duration::from_secs(15), "held stock sold", || async {
        shop.stock(&product).await == (3, 0, 2, 5)
    })
    .await;
    shop.stop().await;
}

#[tokio::test]
async fn a_saga_recovered_after_its_deadline_is_compensated_and_the_money_returned() {
    let mut shop = Shop::start().await;
    let product = shop.product(5, 1000).await;
    // The driver dies after the charge and stays down past the saga's deadline.
    let (order_id, pool) = crash_and_recover(
        &mut shop,
        &product,
        DieAfter::Charge,
        Duration::from_secs(2),
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(
        status_of(&pool).await,
        ("REJECTED".to_owned(), Some("timeout".to_owned()))
    );
    let entry = shop.processor().entry(order_id).await.unwrap().unwrap();
    assert!(entry.refunded, "charged, so refunded: {entry:?}");
    assert_eq!(
        shop.stock(&product).await,
        (5, 0, 0, 5),
        "no reservation outlives the order"
    );
    shop.stop().await;
}

/// A processor that answers every charge, slowly.
struct SlowCharges<P: ?Sized> {
    inner: Arc<P>,
    delay: Duration,
}

#[async_trait]
impl<P: PaymentPort + ?Sized> PaymentPort for SlowCharges<P> {
    async fn charge(
        &self,
        order_id: Uuid,
        user_id: Uuid,
        amount: &Money,
        card: &str,
    ) -> Result<ChargeOutcome, StepError> {
        tokio::time::sleep(self.delay).await;
        self.inner.charge(order_id, user_id, amount, card).await
    }

    async fn refund(&self, order_id: Uuid, reason: &str) -> Result<(), StepError> {
        self.inner.refund(order_id, reason).await
    }
}

/// After an outage, a backlog of stalled sagas whose charges each take a while: one at a time
/// they would outlive their deadline (12 x 3 s against 20 s) and be compensated; claimed as a
/// batch and driven together, every one is confirmed, and each is charged once.
#[tokio::test]
async fn a_backlog_of_stalled_sagas_is_recovered_together_within_the_deadline() {
    const ORDERS: u64 = 12;
    let mut shop = Shop::start().await;
    let product = shop.product(ORDERS.try_into().unwrap(), 1000).await;
    let database = shop.shop.new_database().await;
    let hang = Arc::new(Notify::new());
    let settings = on_peers(&shop, Duration::from_secs(20), |saga| {
        saga.lease = Duration::from_secs(1);
        saga.request_budget = Duration::from_millis(900);
        saga.recovery_interval = Duration::from_secs(3600);
    });
    let doomed = shop
        .shop
        .order_on(
            &shop.user,
            database.clone(),
            inventory_dies_after_reserving(hang),
            settings,
        )
        .await;
    let caller = shop_test_services::caller(&shop.user, &shop.customer_token).await;
    let placing: Vec<_> = (0..ORDERS)
        .map(|_| {
            let request = Shop::order_request(&product, 1);
            let (orders, caller) = (doomed.handle.clone(), caller.clone());
            tokio::spawn(async move { orders.place_order(&caller, request).await })
        })
        .collect();
    shop.eventually(Duration::from_secs(15), "every order reserved", || async {
        shop.stock(&product).await.1 == i64::try_from(ORDERS).unwrap()
    })
    .await;
    for task in &placing {
        task.abort();
    }
    shop.shop.stop_service(doomed.addr).await;

    let settings = on_peers(&shop, Duration::from_secs(20), |saga| {
        saga.step_timeout = Duration::from_secs(5);
        saga.recovery_interval = Duration::from_millis(100);
    });
    let restarted = shop
        .shop
        .order_on(
            &shop.user,
            database.clone(),
            |real: Peers| Peers {
                catalog: real.catalog,
                inventory: real.inventory,
                payment: Arc::new(SlowCharges {
                    inner: real.payment,
                    delay: Duration::from_secs(3),
                }),
            },
            settings,
        )
        .await;
    shop.eventually(
        Duration::from_secs(60),
        "the recovery worker ends every saga",
        || async {
            let open: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM orders WHERE status NOT IN ('CONFIRMED', 'REJECTED')",
            )
            .fetch_one(&restarted.pool)
            .await
            .unwrap();
            open == 0
        },
    )
    .await;
    let outcomes: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status, reason FROM orders ORDER BY created_at")
            .fetch_all(&restarted.pool)
            .await
            .unwrap();
    assert_eq!(outcomes.len() as u64, ORDERS);
    assert!(
        outcomes.iter().all(|(status, _)| status == "CONFIRMED"),
        "every saga confirmed before its deadline: {outcomes:?}"
    );
    assert_eq!(
        shop.processor().total_captures(),
        ORDERS,
        "each charged once"
    );
    shop.stop().await;
}

/// A reservation that waits until the test lets it through: a driver whose call to inventory
/// is slow enough for its lease to run out and the recovery worker to take its order over.
struct SlowReserve {
    inner: Arc<dyn InventoryPort>,
    gate: Arc<tokio::sync::Semaphore>,
}

#[async_trait]
impl InventoryPort for SlowReserve {
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: &[RequestedLine],
    ) -> Result<Reserved, StepError> {
        let _permit = self.gate.acquire().await.unwrap();
        self.inner.reserve(order_id, lines).await
    }

    async fn release(&self, order_id: Uuid) -> Result<(), StepError> {
        self.inner.release(order_id).await
    }
}

/// The status of the one order in `pool`, once it is placed.
async fn placed_status(pool: &sqlx::PgPool) -> Option<String> {
    sqlx::query_scalar("SELECT status FROM orders")
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Two order services on one database: a slow one (lease 1 s, no recovery of its own) whose
/// reservations wait at `gate`, and one whose recovery worker takes over expired leases.
/// Places `quantity` of `product` through the slow one; returns that placement (still
/// running), the database and the gate.
async fn outrun_by_recovery(
    shop: &mut Shop,
    product: &str,
    quantity: i64,
) -> (
    tokio::task::JoinHandle<Result<shop_order::app::OrderView, shop_order::app::OrderError>>,
    sqlx::PgPool,
    Arc<tokio::sync::Semaphore>,
) {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let gated = gate.clone();
    let slow_peers = move |real: Peers| Peers {
        inventory: Arc::new(SlowReserve {
            inner: real.inventory,
            gate: gated,
        }),
        ..real
    };
    let database = shop.shop.new_database().await;
    let slow = on_peers(shop, Duration::from_secs(120), |saga| {
        saga.lease = Duration::from_secs(1);
        saga.request_budget = Duration::from_secs(60);
        saga.recovery_interval = Duration::from_secs(3600);
    });
    let slow = shop
        .shop
        .order_on(&shop.user, database.clone(), slow_peers, slow)
        .await;
    let recovering = on_peers(shop, Duration::from_secs(120), |saga| {
        saga.recovery_interval = Duration::from_millis(100);
    });
    shop.shop
        .order_on(
            &shop.user,
            database.clone(),
            std::convert::identity,
            recovering,
        )
        .await;

    let caller = shop_test_services::caller(&shop.user, &shop.customer_token).await;
    let request = Shop::order_request(product, quantity);
    let orders = slow.handle.clone();
    let placing = tokio::spawn(async move { orders.place_order(&caller, request).await });
    (placing, database.1, gate)
}

/// The slow driver's reservation lands after the recovery worker confirmed the order with the
/// same reservation: the slow driver finds the order moved on, charges nothing and leaves the
/// held stock to the confirmation.
#[tokio::test]
async fn a_slow_driver_outrun_by_recovery_charges_nothing_and_leaves_the_order_confirmed() {
    let mut shop = Shop::start().await;
    let product = shop.product(5, 1000).await;
    let (placing, pool, gate) = outrun_by_recovery(&mut shop, &product, 2).await;
    shop.eventually(
        Duration::from_secs(30),
        "the recovery worker confirms the order",
        || async { placed_status(&pool).await.as_deref() == Some("CONFIRMED") },
    )
    .await;

    gate.add_permits(1);
    let answered = placing.await.unwrap().unwrap();
    assert_eq!(answered.order.status().as_str(), "CONFIRMED");
    assert_eq!(shop.processor().total_captures(), 1, "charged once");
    shop.eventually(Duration::from_secs(15), "held stock sold", || async {
        shop.stock(&product).await == (3, 0, 2, 5)
    })
    .await;
    shop.stop().await;
}

/// The recovery worker rejects the order (too little stock); stock arrives; then the slow
/// driver's reservation lands. Nothing would give that stock back until the reservation
/// expired: the slow driver, finding its order rejected, releases it before it answers.
#[tokio::test]
async fn a_slow_driver_whose_order_was_rejected_meanwhile_gives_its_late_reservation_back() {
    let mut shop = Shop::start().await;
    let product = shop.product(1, 1000).await;
    let (placing, pool, gate) = outrun_by_recovery(&mut shop, &product, 2).await;
    shop.eventually(
        Duration::from_secs(30),
        "the recovery worker rejects the order",
        || async { placed_status(&pool).await.as_deref() == Some("REJECTED") },
    )
    .await;
    InventoryServiceClient::new(shop.inventory.channel().await)
        .adjust_stock(authed(
            inventory_pb::AdjustStockRequest {
                request_id: Uuid::now_v7().to_string(),
                product_id: product.clone(),
                delta: 10,
            },
            &shop.admin_token,
        ))
        .await
        .unwrap();

    gate.add_permits(1);
    let answered = placing.await.unwrap().unwrap();
    assert_eq!(answered.order.status().as_str(), "REJECTED");
    assert_eq!(shop.processor().total_captures(), 0, "nothing charged");
    assert_eq!(
        shop.stock(&product).await,
        (11, 0, 0, 11),
        "the late reservation is given back at once, not when it expires"
    );
    shop.stop().await;
}
