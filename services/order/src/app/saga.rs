//! The place-order saga's driver: runs the next step the order calls for, records its outcome,
//! and goes on until the saga ends or the time allotted runs out.
//!
//! Every step is idempotent by order id, and every outcome is stored before the next step
//! starts, so a driver can stop anywhere (a crash, a timeout, a lost lease) and another one
//! resumes with the same decision. A transient peer failure is retried with backoff within the
//! budget; a definite refusal turns into compensation.

use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable as _};
use chrono::Utc;
use shop_kernel::LeaseToken;
use uuid::Uuid;

use super::events::order_confirmed;
use super::ports::{CardToCharge, Change, ChargeOutcome, OutgoingEvent, StepError};
use super::{OrderError, Orders};
use crate::domain::{
    Order, OrderStatus, RejectReason, Step, TimelineEntry, TransitionError, next_step,
};

/// Backoff between attempts of a step that failed transiently.
const RETRY_MIN: Duration = Duration::from_millis(50);
const RETRY_MAX: Duration = Duration::from_millis(800);

/// What a step decided but did not store: the step after it stores both in one transaction.
/// A reservation is stored with the charge's outcome (one order update and one commit fewer
/// per checkout); both calls are idempotent by order id, so a driver that stops in between
/// leaves an order that the next driver reserves (finding the same reservation) and charges.
struct Unstored {
    /// The state the store holds, which the combined write is conditional on.
    before: (OrderStatus, Option<RejectReason>),
    timeline: Vec<TimelineEntry>,
}

/// How a step run ended.
enum Progress {
    /// The outcome is stored; go on from the order as stored (no need to read it back: the
    /// store applied exactly this state, conditionally on the one it replaced).
    Advanced(Box<Order>),
    /// Out of time, or the lease was lost: leave the order as it is.
    Stopped,
}

impl Orders {
    /// Drives an order's saga with the lease `token` for at most `budget`; returns the order as
    /// it then stands. Releases the lease unless the saga ended (then it is cleared with it).
    /// `known` is the order as just stored, when the caller has it (placement does): it is
    /// not read again.
    pub async fn drive(
        &self,
        id: Uuid,
        known: Option<Order>,
        token: LeaseToken,
        budget: Duration,
    ) -> Result<Order, OrderError> {
        let deadline = Instant::now() + budget;
        let outcome = self.drive_until(id, known, token, deadline).await;
        let order = match &outcome {
            Ok(Some(order)) => order.clone(),
            // Stopped or failed: what the order is now is in the store.
            Ok(None) | Err(_) => match self.store.get(id).await {
                Ok(order) => order.ok_or(OrderError::NotFound)?,
                Err(err) => {
                    self.release_when_the_store_answers(id, token);
                    return Err(err.into());
                }
            },
        };
        if !order.status().is_terminal()
            && let Err(err) = self.store.release_lease(id, token).await
        {
            self.release_when_the_store_answers(id, token);
            return Err(err.into());
        }
        outcome?;
        Ok(order)
    }

    /// A driver that lost its database cannot release its lease, and the saga would then wait
    /// for the lease to expire after the database is back. So the release is retried in the
    /// background for as long as the lease lasts; it is conditional on `token`, so a release
    /// that comes after another driver took the order over changes nothing.
    fn release_when_the_store_answers(&self, id: Uuid, token: LeaseToken) {
        let store = self.store.clone();
        shop_platform::retry::in_background_within(
            "releasing a saga's lease",
            self.policy.lease,
            move || {
                let store = store.clone();
                async move { store.release_lease(id, token).await }
            },
        );
    }

    /// Runs steps until the saga ends, the deadline passes or another driver takes over.
    /// Returns the order as this driver last stored or read it, or `None` when it stopped
    /// without knowing (a lost race, a step without an answer).
    async fn drive_until(
        &self,
        id: Uuid,
        mut known: Option<Order>,
        token: LeaseToken,
        deadline: Instant,
    ) -> Result<Option<Order>, OrderError> {
        // The order is read at most once; after that each step goes on from the state the
        // previous one stored (two reads per step saved). A change made meanwhile by someone
        // else (a cancel) makes the next conditional store fail, which stops this driver,
        // exactly as a change made during a step's call does.
        loop {
            let order = match known.take() {
                Some(order) => order,
                None => self.store.get(id).await?.ok_or(OrderError::NotFound)?,
            };
            let step = next_step(&order, Utc::now());
            if step == Step::Done || Instant::now() >= deadline {
                return Ok(Some(order));
            }
            let progress = match step {
                Step::Reserve => self.reserve(order, token, deadline).await?,
                Step::Charge => self.charge(order, token, deadline, None).await?,
                Step::Compensate(reason) => self.compensate(order, token, reason, deadline).await?,
                Step::Done => Progress::Stopped,
            };
            match progress {
                Progress::Stopped => return Ok(None),
                Progress::Advanced(order) => known = Some(*order),
            }
        }
    }

    async fn reserve(
        &self,
        mut order: Order,
        token: LeaseToken,
        deadline: Instant,
    ) -> Result<Progress, OrderError> {
        let lines: Vec<_> = order
            .lines()
            .iter()
            .map(|l| crate::domain::RequestedLine {
                product_id: l.product_id,
                quantity: l.quantity,
            })
            .collect();
        let inventory = self.inventory.clone();
        let id = order.id();
        let reserved = retry_until(deadline, "reserve stock", || {
            let inventory = inventory.clone();
            let lines = lines.clone();
            async move { inventory.reserve(id, &lines).await }
        })
        .await;
        let before = (order.status(), order.compensation());
        let timeline = match reserved {
            None => return Ok(Progress::Stopped),
            Some(Ok(reserved)) => {
                let timeline = order
                    .reserved(&reserved.lines, reserved.total, Utc::now())
                    .map_err(|err| anyhow::anyhow!("recording the reservation: {err}"))?;
                if next_step(&order, Utc::now()) != Step::Charge {
                    // Reserved at another price than the customer was shown (or past the
                    // deadline): the decision to compensate is stored before anything else.
                    let progress = self.record(before, order, timeline, None, token).await?;
                    if let Progress::Stopped = progress {
                        self.give_back_if_rejected(id, deadline).await?;
                    }
                    return Ok(progress);
                }
                // Stored with the charge's outcome, not on its own.
                let unstored = Unstored { before, timeline };
                return self.charge(order, token, deadline, Some(unstored)).await;
            }
            // Nothing was held, so there is nothing to undo: reject at once.
            Some(Err(StepError::Refused { reason, detail })) => order
                .refused(reason, &detail, Utc::now())
                .map_err(transition)?,
            Some(Err(StepError::Transient(_))) => return Ok(Progress::Stopped),
        };
        self.record(before, order, timeline, None, token).await
    }

    /// Charges a reserved order; `unstored` is the reservation when it is not stored yet.
    async fn charge(
        &self,
        mut order: Order,
        token: LeaseToken,
        deadline: Instant,
        unstored: Option<Unstored>,
    ) -> Result<Progress, OrderError> {
        let reservation_unstored = unstored.is_some();
        let (before, mut timeline) = match unstored {
            Some(Unstored { before, timeline }) => (before, timeline),
            None => ((order.status(), order.compensation()), Vec::new()),
        };
        // Read only while the order is still as stored: a cancellation made meanwhile stops
        // the driver here, before any money is taken.
        let card = match self
            .store
            .card_to_charge(order.id(), before.0, before.1)
            .await?
        {
            CardToCharge::Card(card) => card,
            CardToCharge::MovedOn => {
                tracing::info!("the order moved on before the charge; stopping");
                if reservation_unstored {
                    self.give_back_if_rejected(order.id(), deadline).await?;
                }
                return Ok(Progress::Stopped);
            }
            CardToCharge::Missing => {
                return Err(anyhow::anyhow!(
                    "order {} is reserved but has no card token",
                    order.id()
                )
                .into());
            }
        };
        let Some(total) = order.total().cloned() else {
            return Err(
                anyhow::anyhow!("order {} is reserved but has no total", order.id()).into(),
            );
        };
        let (payment, id, user) = (self.payment.clone(), order.id(), order.user_id());
        let charged = retry_until(deadline, "charge", || {
            let (payment, total, card) = (payment.clone(), total.clone(), card.clone());
            async move { payment.charge(id, user, &total, &card).await }
        })
        .await;
        let (step, event) = match charged {
            None | Some(Err(StepError::Transient(_))) => {
                // No answer: the charge may have happened. An unstored reservation is stored
                // now, so the order shows the stock it holds; the next driver charges again.
                if reservation_unstored {
                    self.record(before, order, timeline, None, token).await?;
                }
                return Ok(Progress::Stopped);
            }
            Some(Ok(ChargeOutcome::Captured)) => match order.confirm(Utc::now()) {
                Ok(confirmed) => {
                    let event = order_confirmed(&order)?;
                    (confirmed, Some(OutgoingEvent::Confirmed(Box::new(event))))
                }
                // Captured too late: the money goes back by compensation.
                Err(TransitionError::DeadlinePassed) => (
                    order
                        .begin_compensation(
                            RejectReason::Timeout,
                            "paid after the deadline",
                            Utc::now(),
                        )
                        .map_err(transition)?,
                    None,
                ),
                Err(err) => return Err(transition(err)),
            },
            Some(Ok(ChargeOutcome::NotPaid { reason })) => (
                order
                    .payment_declined(&reason, Utc::now())
                    .map_err(transition)?,
                None,
            ),
            Some(Err(StepError::Refused { detail, .. })) => (
                order
                    .begin_compensation(RejectReason::Refused, &detail, Utc::now())
                    .map_err(transition)?,
                None,
            ),
        };
        timeline.extend(step);
        self.record(before, order, timeline, event, token).await
    }

    /// Undoes what the saga did: money back (nothing if none was taken), stock back, rejected.
    async fn compensate(
        &self,
        mut order: Order,
        token: LeaseToken,
        reason: RejectReason,
        deadline: Instant,
    ) -> Result<Progress, OrderError> {
        let before = (order.status(), order.compensation());
        // Record the decision first: if we stop halfway, the next driver compensates too.
        let mut timeline = order
            .begin_compensation(reason, "", Utc::now())
            .map_err(transition)?;
        if !timeline.is_empty()
            && let Progress::Stopped = self
                .record(
                    before,
                    order.clone(),
                    std::mem::take(&mut timeline),
                    None,
                    token,
                )
                .await?
        {
            return Ok(Progress::Stopped);
        }
        let before = (order.status(), order.compensation());
        let id = order.id();
        // Both undo steps run whatever the status says: a step may have happened at the peer
        // without being recorded here (a crash between the call and its record), and both are
        // idempotent, so undoing what never happened is a no-op.
        let payment = self.payment.clone();
        let refunded = retry_until(deadline, "refund", || {
            let payment = payment.clone();
            async move { payment.refund(id, "order_rejected").await }
        })
        .await;
        if !matches!(refunded, Some(Ok(()))) {
            return Ok(Progress::Stopped);
        }
        if !self.release_stock(id, deadline).await {
            return Ok(Progress::Stopped);
        }
        timeline.extend(order.compensated(Utc::now()).map_err(transition)?);
        self.record(before, order, timeline, None, token).await
    }

    /// This driver reserved stock and then found the order moved on under another driver.
    /// If that driver rejected it (or is compensating it), its release may have run before
    /// this reservation landed, and nothing else would give the stock back until the
    /// reservation expires: release it now. An order that went ahead (another driver stored
    /// the same reservation) keeps it. Release is idempotent, so racing the compensation's
    /// own release is harmless; if it does not get through, expiry is still the backstop.
    async fn give_back_if_rejected(&self, id: Uuid, deadline: Instant) -> Result<(), OrderError> {
        let Some(order) = self.store.get(id).await? else {
            return Ok(());
        };
        if order.status() != OrderStatus::Rejected && order.compensation().is_none() {
            return Ok(());
        }
        tracing::info!("the order was rejected while this driver reserved; releasing the stock");
        if !self.release_stock(id, deadline).await {
            tracing::warn!("the late reservation was not released; it is left to expire");
        }
        Ok(())
    }

    /// Gives an order's held stock back (idempotent at inventory); false if it did not get
    /// through before `deadline`.
    async fn release_stock(&self, id: Uuid, deadline: Instant) -> bool {
        let inventory = self.inventory.clone();
        let released = retry_until(deadline, "release stock", || {
            let inventory = inventory.clone();
            async move { inventory.release(id).await }
        })
        .await;
        matches!(released, Some(Ok(())))
    }

    /// Stores a transition; a lost race means someone else drives now.
    async fn record(
        &self,
        before: (OrderStatus, Option<RejectReason>),
        order: Order,
        timeline: Vec<TimelineEntry>,
        event: Option<OutgoingEvent>,
        token: LeaseToken,
    ) -> Result<Progress, OrderError> {
        let ended = order.status().is_terminal().then(|| {
            (
                order.status(),
                order.reason().map(str::to_owned),
                order.created_at(),
            )
        });
        let stored = order.clone().stored_at(Utc::now());
        let applied = self
            .store
            .apply(Change {
                from: before.0,
                from_compensation: before.1,
                order,
                timeline,
                event,
                lease: Some(token),
            })
            .await?;
        if !applied {
            tracing::info!("the order moved on under another driver; stopping");
            return Ok(Progress::Stopped);
        }
        if let Some((status, reason, created_at)) = ended {
            let reason = reason.unwrap_or_default();
            metrics::counter!("orders_saga_outcomes_total", "status" => status.as_str(), "reason" => reason).increment(1);
            let took = (Utc::now() - created_at).to_std().unwrap_or_default();
            metrics::histogram!("orders_saga_duration_seconds", "status" => status.as_str())
                .record(took.as_secs_f64());
        }
        Ok(Progress::Advanced(Box::new(stored)))
    }
}

fn transition(err: TransitionError) -> OrderError {
    OrderError::Unexpected(anyhow::anyhow!("saga transition refused: {err}"))
}

/// Runs `step` until it gives a definite answer or `deadline` passes (`None`). Transient
/// failures are retried with exponential backoff (backon): every saga step is idempotent by
/// order id. When the next wait would end past the deadline, the last transient failure is the
/// answer.
async fn retry_until<T, F, Fut>(
    deadline: Instant,
    name: &'static str,
    mut step: F,
) -> Option<Result<T, StepError>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StepError>>,
{
    // Each attempt is bounded by the time left; running out of it mid-step is "no answer".
    let attempt = || {
        let step = step();
        async move {
            let remaining = deadline
                .checked_duration_since(Instant::now())
                .ok_or(Expired)?;
            tokio::time::timeout(remaining, step)
                .await
                .map_err(|_| Expired)?
                .map_err(Attempt::Failed)
        }
    };
    let backoff = ExponentialBuilder::default()
        .with_min_delay(RETRY_MIN)
        .with_max_delay(RETRY_MAX)
        .without_max_times();
    let outcome = attempt
        .retry(backoff)
        .when(|err| matches!(err, Attempt::Failed(StepError::Transient(_))))
        .adjust(|_, delay| delay.filter(|d| Instant::now() + *d < deadline))
        .notify(|err, delay| {
            metrics::counter!("orders_saga_step_retries_total", "step" => name).increment(1);
            tracing::warn!(step = name, error = %err, ?delay, "saga step failed transiently; retrying");
        })
        .await;
    match outcome {
        Ok(value) => Some(Ok(value)),
        Err(Attempt::Failed(err)) => Some(Err(err)),
        Err(Attempt::Expired(Expired)) => None,
    }
}

/// The deadline passed before the step answered.
#[derive(Debug)]
struct Expired;

/// Why one attempt at a step ended without a value.
#[derive(Debug, thiserror::Error)]
enum Attempt {
    #[error(transparent)]
    Failed(StepError),
    #[error("the deadline passed")]
    Expired(Expired),
}

impl From<Expired> for Attempt {
    fn from(expired: Expired) -> Self {
        Self::Expired(expired)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use chrono::Utc;
    use mockall::Sequence;
    use shop_events::Money;
    use uuid::Uuid;

    use crate::app::ports::{
        CardToCharge, Change, ChargeOutcome, MockInventoryPort, MockOrderStore, MockPaymentPort,
        OutgoingEvent, Reserved, StepError,
    };
    use crate::app::{Orders, SagaPolicy};
    use crate::domain::{Order, OrderStatus, PricedLine, RejectReason};

    const PRODUCT: Uuid = Uuid::from_u128(42);

    fn order(deadline_in_secs: i64) -> Order {
        let now = Utc::now();
        Order::place(
            Uuid::now_v7(),
            Uuid::now_v7(),
            &[(PRODUCT, 2)],
            now + chrono::Duration::seconds(deadline_in_secs),
            now,
        )
        .0
    }

    fn reserved() -> Reserved {
        Reserved {
            lines: vec![(
                PRODUCT,
                PricedLine {
                    name: "Mug".to_owned(),
                    unit_price: Money::new(1200, "EUR").unwrap(),
                },
            )],
            total: Money::new(2400, "EUR").unwrap(),
        }
    }

    /// A store over one order in memory, applying changes the way the real one does
    /// (conditionally on the state they start from) and keeping every applied change.
    fn store(
        state: Arc<Mutex<Order>>,
        applied: Arc<Mutex<Vec<Change>>>,
        reads: Arc<AtomicUsize>,
    ) -> MockOrderStore {
        let mut store = MockOrderStore::new();
        let read = state.clone();
        store.expect_get().returning(move |_| {
            reads.fetch_add(1, Ordering::Relaxed);
            Ok(Some(read.lock().unwrap().clone()))
        });
        store.expect_timeline().returning(|_| Ok(Vec::new()));
        let card = state.clone();
        store
            .expect_card_to_charge()
            .returning(move |_, status, compensation| {
                let current = card.lock().unwrap();
                Ok(
                    if current.status() == status && current.compensation() == compensation {
                        CardToCharge::Card("tok_visa".to_owned())
                    } else {
                        CardToCharge::MovedOn
                    },
                )
            });
        store.expect_release_lease().returning(|_, _| Ok(()));
        store.expect_apply().returning(move |change: Change| {
            let mut current = state.lock().unwrap();
            if current.status() != change.from || current.compensation() != change.from_compensation
            {
                return Ok(false);
            }
            *current = change.order.clone();
            applied.lock().unwrap().push(change);
            Ok(true)
        });
        store
    }

    struct Bed {
        state: Arc<Mutex<Order>>,
        applied: Arc<Mutex<Vec<Change>>>,
        /// How often the driver read the order from the store.
        reads: Arc<AtomicUsize>,
        inventory: MockInventoryPort,
        payment: MockPaymentPort,
    }

    impl Bed {
        fn new(order: Order) -> Self {
            Self {
                state: Arc::new(Mutex::new(order)),
                applied: Arc::default(),
                reads: Arc::default(),
                inventory: MockInventoryPort::new(),
                payment: MockPaymentPort::new(),
            }
        }

        /// Inventory reserves the order's lines.
        fn reserves(&mut self) {
            self.inventory
                .expect_reserve()
                .returning(|_, _| Ok(reserved()));
        }

        /// Payment declines the card: no money taken.
        fn declines_the_card(&mut self) {
            self.payment.expect_charge().returning(|_, _, _, _| {
                Ok(ChargeOutcome::NotPaid {
                    reason: "card_declined".to_owned(),
                })
            });
        }

        /// Compensation refunds and releases exactly once each.
        fn undoes_once(&mut self) {
            self.payment
                .expect_refund()
                .times(1)
                .returning(|_, _| Ok(()));
            self.inventory
                .expect_release()
                .times(1)
                .returning(|_| Ok(()));
        }

        async fn drive(self, budget: Duration) -> (Order, Vec<Change>) {
            self.drive_from(None, budget).await
        }

        /// Drives with `known` handed over, as placement hands over the order it stored.
        async fn drive_from(self, known: Option<Order>, budget: Duration) -> (Order, Vec<Change>) {
            let id = self.state.lock().unwrap().id();
            let orders = Orders::new(
                Arc::new(store(
                    self.state.clone(),
                    self.applied.clone(),
                    self.reads.clone(),
                )),
                Arc::new(self.inventory),
                Arc::new(self.payment),
                // The saga never reads a cart.
                crate::app::Carts::new(
                    Arc::new(crate::app::ports::MockCartStore::new()),
                    Arc::new(crate::app::ports::MockCatalogPort::new()),
                ),
                SagaPolicy {
                    deadline: Duration::from_secs(60),
                    request_budget: budget,
                    lease: Duration::from_secs(30),
                    duplicate_wait: Duration::from_secs(1),
                    recovery_budget: budget,
                    recovery_concurrency: 1,
                },
            );
            let order = orders
                .drive(id, known, shop_kernel::LeaseToken::new(), budget)
                .await
                .unwrap();
            let applied = self.applied.lock().unwrap().clone();
            (order, applied)
        }
    }

    #[tokio::test]
    async fn a_driver_that_lost_its_database_releases_its_lease_once_the_database_answers() {
        let id = Uuid::now_v7();
        let mut store = MockOrderStore::new();
        store
            .expect_get()
            .returning(|_| Err(anyhow::anyhow!("connection refused")));
        let attempts = Arc::new(AtomicUsize::new(0));
        let (released, mut on_release) = tokio::sync::mpsc::unbounded_channel();
        let counted = attempts.clone();
        store.expect_release_lease().returning(move |order_id, _| {
            // The database answers again at the third attempt.
            if counted.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(anyhow::anyhow!("connection refused"));
            }
            released.send(order_id).unwrap();
            Ok(())
        });
        let orders = Orders::new(
            Arc::new(store),
            Arc::new(MockInventoryPort::new()),
            Arc::new(MockPaymentPort::new()),
            crate::app::Carts::new(
                Arc::new(crate::app::ports::MockCartStore::new()),
                Arc::new(crate::app::ports::MockCatalogPort::new()),
            ),
            SagaPolicy {
                deadline: Duration::from_secs(60),
                request_budget: Duration::from_secs(5),
                lease: Duration::from_secs(30),
                duplicate_wait: Duration::from_secs(1),
                recovery_budget: Duration::from_secs(5),
                recovery_concurrency: 1,
            },
        );

        let driven = orders
            .drive(
                id,
                None,
                shop_kernel::LeaseToken::new(),
                Duration::from_secs(5),
            )
            .await;
        assert!(driven.is_err(), "the order could not be read");
        let released = tokio::time::timeout(Duration::from_secs(5), on_release.recv())
            .await
            .expect("the lease is released once the database answers");
        assert_eq!(released, Some(id));
        assert_eq!(attempts.load(Ordering::SeqCst), 3);
    }

    fn events(applied: &[Change]) -> Vec<String> {
        applied
            .iter()
            .flat_map(|c| c.timeline.iter().map(|e| e.event.as_str().to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn the_happy_path_reserves_charges_and_confirms_with_an_event() {
        let mut bed = Bed::new(order(60));
        bed.inventory
            .expect_reserve()
            .times(1)
            .returning(|_, _| Ok(reserved()));
        bed.payment
            .expect_charge()
            .withf(|_, _, amount, card| amount.amount_minor == 2400 && card == "tok_visa")
            .times(1)
            .returning(|_, _, _, _| Ok(ChargeOutcome::Captured));
        bed.payment.expect_refund().never();
        bed.inventory.expect_release().never();
        let reads = bed.reads.clone();

        let (order, applied) = bed.drive(Duration::from_secs(5)).await;
        assert_eq!(order.status(), OrderStatus::Confirmed);
        assert_eq!(
            events(&applied),
            ["stock_reserved", "payment_captured", "confirmed"]
        );
        assert_eq!(
            applied.len(),
            1,
            "the reservation is stored with the confirmation, in one write"
        );
        assert_eq!(applied[0].from, OrderStatus::Pending);
        // Read once: every later step goes on from the order the previous one stored.
        assert_eq!(reads.load(Ordering::Relaxed), 1);
        assert!(matches!(
            applied.last().unwrap().event,
            Some(OutgoingEvent::Confirmed(_))
        ));
    }

    #[tokio::test]
    async fn an_order_handed_over_by_its_placement_is_not_read_back() {
        let placed = order(60);
        let mut bed = Bed::new(placed.clone());
        bed.reserves();
        bed.payment
            .expect_charge()
            .returning(|_, _, _, _| Ok(ChargeOutcome::Captured));
        let reads = bed.reads.clone();

        let (order, _) = bed.drive_from(Some(placed), Duration::from_secs(5)).await;
        assert_eq!(order.status(), OrderStatus::Confirmed);
        assert_eq!(reads.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn out_of_stock_rejects_at_once_with_nothing_to_undo() {
        let mut bed = Bed::new(order(60));
        bed.inventory.expect_reserve().returning(|_, _| {
            Err(StepError::Refused {
                reason: RejectReason::OutOfStock,
                detail: PRODUCT.to_string(),
            })
        });
        bed.payment.expect_charge().never();
        bed.payment.expect_refund().never();
        bed.inventory.expect_release().never();

        let (order, applied) = bed.drive(Duration::from_secs(5)).await;
        assert_eq!(
            (order.status(), order.reason()),
            (OrderStatus::Rejected, Some("out_of_stock"))
        );
        assert_eq!(events(&applied), ["out_of_stock", "rejected"]);
    }

    #[tokio::test]
    async fn a_declined_card_releases_the_stock_and_rejects() {
        let mut bed = Bed::new(order(60));
        bed.reserves();
        bed.declines_the_card();
        bed.undoes_once();

        let (order, applied) = bed.drive(Duration::from_secs(5)).await;
        assert_eq!(
            (order.status(), order.reason()),
            (OrderStatus::Rejected, Some("payment_declined"))
        );
        assert_eq!(
            events(&applied),
            [
                "stock_reserved",
                "payment_declined",
                "compensating",
                "stock_released",
                "rejected"
            ]
        );
    }

    #[tokio::test]
    async fn a_reservation_that_fails_transiently_is_retried_and_then_succeeds() {
        let mut bed = Bed::new(order(60));
        let mut sequence = Sequence::new();
        bed.inventory
            .expect_reserve()
            .times(2)
            .in_sequence(&mut sequence)
            .returning(|_, _| Err(StepError::Transient("unavailable".to_owned())));
        bed.inventory
            .expect_reserve()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_, _| Ok(reserved()));
        bed.payment
            .expect_charge()
            .returning(|_, _, _, _| Ok(ChargeOutcome::Captured));

        let (order, _) = bed.drive(Duration::from_secs(5)).await;
        assert_eq!(order.status(), OrderStatus::Confirmed);
    }

    #[tokio::test]
    async fn a_charge_that_keeps_timing_out_leaves_the_order_reserved_for_recovery() {
        let mut bed = Bed::new(order(60));
        bed.reserves();
        bed.payment
            .expect_charge()
            .returning(|_, _, _, _| Err(StepError::Transient("deadline exceeded".to_owned())));
        bed.payment.expect_refund().never();

        let (order, _) = bed.drive(Duration::from_millis(400)).await;
        assert_eq!(
            order.status(),
            OrderStatus::Reserved,
            "not rejected: the charge may still have happened"
        );
        assert!(order.compensation().is_none());
    }

    #[tokio::test]
    async fn a_charge_that_fails_transiently_is_retried_and_then_captured() {
        let mut bed = Bed::new(order(60));
        bed.inventory
            .expect_reserve()
            .times(1)
            .returning(|_, _| Ok(reserved()));
        let mut sequence = Sequence::new();
        bed.payment
            .expect_charge()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_, _, _, _| Err(StepError::Transient("unavailable".to_owned())));
        bed.payment
            .expect_charge()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_, _, _, _| Ok(ChargeOutcome::Captured));
        bed.payment.expect_refund().never();
        bed.inventory.expect_release().never();

        let (order, applied) = bed.drive(Duration::from_secs(5)).await;
        assert_eq!(order.status(), OrderStatus::Confirmed);
        assert_eq!(
            events(&applied),
            ["stock_reserved", "payment_captured", "confirmed"],
            "a retried step leaves no trace of its failed attempt in the timeline"
        );
    }

    #[tokio::test]
    async fn a_charge_the_payment_service_refuses_for_good_is_compensated() {
        let mut bed = Bed::new(order(60));
        bed.reserves();
        bed.payment
            .expect_charge()
            .times(1)
            .returning(|_, _, _, _| {
                Err(StepError::Refused {
                    reason: RejectReason::Refused,
                    detail: "amount does not match the order".to_owned(),
                })
            });
        bed.undoes_once();

        let (order, _) = bed.drive(Duration::from_secs(5)).await;
        assert_eq!(
            (order.status(), order.reason()),
            (OrderStatus::Rejected, Some("refused"))
        );
    }

    #[tokio::test]
    async fn a_release_that_keeps_failing_leaves_the_compensation_to_the_next_driver() {
        let mut bed = Bed::new(order(60));
        bed.reserves();
        bed.declines_the_card();
        bed.payment.expect_refund().returning(|_, _| Ok(()));
        bed.inventory
            .expect_release()
            .returning(|_| Err(StepError::Transient("inventory down".to_owned())));

        let (order, applied) = bed.drive(Duration::from_millis(400)).await;
        assert_eq!(
            (order.status(), order.compensation()),
            (OrderStatus::Reserved, Some(RejectReason::PaymentDeclined)),
            "not rejected while its stock is still held"
        );
        assert!(!events(&applied).contains(&"rejected".to_owned()));
    }

    #[tokio::test]
    async fn a_release_that_fails_once_is_retried_and_the_order_rejected() {
        let mut bed = Bed::new(order(60));
        bed.reserves();
        bed.declines_the_card();
        bed.payment.expect_refund().returning(|_, _| Ok(()));
        let mut sequence = Sequence::new();
        bed.inventory
            .expect_release()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_| Err(StepError::Transient("deadline exceeded".to_owned())));
        bed.inventory
            .expect_release()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_| Ok(()));

        let (order, _) = bed.drive(Duration::from_secs(5)).await;
        assert_eq!(
            (order.status(), order.reason()),
            (OrderStatus::Rejected, Some("payment_declined"))
        );
    }

    #[tokio::test]
    async fn a_reservation_that_never_gets_an_answer_leaves_the_order_pending_for_recovery() {
        let mut bed = Bed::new(order(60));
        bed.inventory
            .expect_reserve()
            .returning(|_, _| Err(StepError::Transient("deadline exceeded".to_owned())));
        bed.payment.expect_charge().never();
        bed.inventory.expect_release().never();

        let (order, applied) = bed.drive(Duration::from_millis(300)).await;
        assert_eq!(order.status(), OrderStatus::Pending);
        assert!(applied.is_empty(), "nothing decided without an answer");
    }

    #[tokio::test]
    async fn a_saga_past_its_deadline_is_compensated_not_continued() {
        let mut late = order(-1);
        late.reserved(&reserved().lines, reserved().total, Utc::now())
            .unwrap();
        let mut bed = Bed::new(late);
        bed.payment.expect_charge().never();
        bed.undoes_once();

        let (order, _) = bed.drive(Duration::from_secs(5)).await;
        assert_eq!(
            (order.status(), order.reason()),
            (OrderStatus::Rejected, Some("timeout"))
        );
    }

    #[tokio::test]
    async fn a_compensation_whose_refund_fails_stays_compensating_for_the_next_driver() {
        let mut bed = Bed::new(order(60));
        bed.reserves();
        bed.declines_the_card();
        bed.payment
            .expect_refund()
            .returning(|_, _| Err(StepError::Transient("payment down".to_owned())));
        bed.inventory.expect_release().never();

        let (order, _) = bed.drive(Duration::from_millis(400)).await;
        assert_eq!(order.status(), OrderStatus::Reserved);
        assert_eq!(
            order.compensation(),
            Some(RejectReason::PaymentDeclined),
            "the decision is recorded"
        );
    }

    /// Another driver moves the order on while this one reserves: a rejection (whose release
    /// may have come before this reservation landed) gets the stock back; an order that went
    /// ahead with the same reservation keeps it. Neither is charged by this driver.
    #[tokio::test]
    async fn a_driver_whose_order_moved_on_meanwhile_gives_back_its_reservation_only_if_rejected() {
        type MoveOn = fn(&mut Order);
        let rejected: MoveOn = |o| {
            o.reject(RejectReason::Timeout, Utc::now())
                .map(drop)
                .unwrap()
        };
        let went_ahead: MoveOn = |o| {
            let r = reserved();
            o.reserved(&r.lines, r.total, Utc::now()).map(drop).unwrap();
        };
        for (move_on, releases, ends) in [
            (rejected, 1, OrderStatus::Rejected),
            (went_ahead, 0, OrderStatus::Reserved),
        ] {
            let mut bed = Bed::new(order(60));
            let state = bed.state.clone();
            bed.inventory
                .expect_reserve()
                .times(1)
                .returning(move |_, _| {
                    move_on(&mut state.lock().unwrap());
                    Ok(reserved())
                });
            bed.payment.expect_charge().never();
            bed.inventory
                .expect_release()
                .times(releases)
                .returning(|_| Ok(()));

            let (order, applied) = bed.drive(Duration::from_secs(5)).await;
            assert_eq!(order.status(), ends);
            assert!(applied.is_empty(), "this driver stored nothing");
        }
    }
}
