//! Charge (saga step): take an order's money exactly once.
//!
//! Any number of concurrent or repeated calls for one order open the same payment; one of
//! them holds the lease and talks to the processor (one sale: authorize and capture), the others
//! wait for its outcome and return it. A crashed holder's lease expires and the next call
//! takes over where it stopped; every processor call carries the order id as idempotency key,
//! so taking over never charges twice.

use std::time::Instant;

use backon::Retryable as _;
use chrono::Utc;
use tracing::Instrument as _;
use uuid::Uuid;

use super::ports::{Authorization, OpenError, Opened, ProviderError};
use super::{PaymentError, Payments};
use crate::domain::{ChargeRequest, Payment, PaymentStatus};

/// How often a waiting caller looks at the payment again.
const POLL: std::time::Duration = std::time::Duration::from_millis(20);
/// How much sooner than its nominal end a lease is assumed to end, for the time the write that
/// took it spent between the database's clock and this process's.
const LEASE_MARGIN: std::time::Duration = std::time::Duration::from_millis(500);

impl Payments {
    #[tracing::instrument(name = "payments.charge", skip_all, fields(order_id = %request.order_id), err(Debug))]
    pub async fn charge(&self, request: ChargeRequest) -> Result<Payment, PaymentError> {
        let opened = self
            .payments
            .open(
                request.order_id,
                request.user_id,
                &request.amount,
                self.policy.lease,
            )
            .await;
        let mut payment = match opened {
            // The first call made the payment and holds its lease: straight to the processor.
            Ok(Opened {
                payment,
                leased: true,
            }) => {
                let payment = self.settle_detached(request, payment).await?;
                count(&payment);
                return Ok(payment);
            }
            Ok(Opened { payment, .. }) => payment,
            Err(OpenError::Conflict(_)) => return Err(PaymentError::AmountMismatch),
            Err(OpenError::Unexpected(err)) => return Err(PaymentError::Unexpected(err)),
        };
        let deadline = Instant::now() + self.policy.max_wait;
        loop {
            if payment.status.is_settled() {
                count(&payment);
                return Ok(payment);
            }
            if let Some(leased) = self
                .payments
                .acquire_lease(request.order_id, self.policy.lease)
                .await?
            {
                let payment = self.settle_detached(request.clone(), leased).await?;
                count(&payment);
                return Ok(payment);
            }
            if Instant::now() >= deadline {
                return Err(PaymentError::Unavailable(
                    "another charge of this order is still in progress".to_owned(),
                ));
            }
            tokio::time::sleep(POLL).await;
            payment = self
                .payments
                .get(request.order_id)
                .await?
                .ok_or(PaymentError::NotFound)?;
        }
    }

    /// Settles a leased payment in a task of its own and releases the lease after, whatever
    /// happened. A caller that gives up (its deadline passed, its connection dropped) drops
    /// only the wait: the talk with the processor finishes and the lease is released, so the
    /// caller's retry finds the outcome at once instead of waiting for the lease to expire.
    async fn settle_detached(
        &self,
        request: ChargeRequest,
        leased: Payment,
    ) -> Result<Payment, PaymentError> {
        let this = self.clone();
        // The lease was taken just before; it ends no sooner than this (less a margin for the
        // time the taking write took).
        let lease_ends = Instant::now() + self.policy.lease.saturating_sub(LEASE_MARGIN);
        let task = async move {
            let outcome = this.settle(&request, leased).await;
            if let Err(err) = this.payments.release_lease(request.order_id).await {
                this.release_when_the_store_answers(request.order_id, lease_ends);
                return Err(err.into());
            }
            outcome
        };
        tokio::spawn(task.in_current_span())
            .await
            .map_err(|err| PaymentError::Unexpected(anyhow::anyhow!("settling a charge: {err}")))?
    }

    /// The database went away as the lease was due back: the release is retried in the
    /// background until the lease would have expired anyway, so the next caller need not wait
    /// for it. The release is not conditional on a holder, so it stops before the lease's end:
    /// until then no one else can have taken it (ADR 27).
    fn release_when_the_store_answers(&self, order_id: Uuid, lease_ends: Instant) {
        let payments = self.payments.clone();
        shop_platform::retry::in_background_within(
            "releasing a charge's lease",
            lease_ends.saturating_duration_since(Instant::now()),
            move || {
                let payments = payments.clone();
                async move { payments.release_lease(order_id).await }
            },
        );
    }

    /// Drives a leased payment to its outcome: one sale (authorize and capture in a single
    /// processor call) for a pending payment, the capture alone for one an earlier version
    /// left authorized; then one conditional write of the outcome.
    async fn settle(
        &self,
        request: &ChargeRequest,
        mut payment: Payment,
    ) -> Result<Payment, PaymentError> {
        let key = request.order_id;
        let reference = match payment.status {
            PaymentStatus::Pending => {
                let sale = (|| self.provider.sale(key, &request.amount, &request.card))
                    .retry(self.backoff())
                    .when(|err| matches!(err, ProviderError::Transient(_)))
                    .notify(|err, delay| tracing::warn!(error = %err, ?delay, "the sale failed; retrying"))
                    .await
                    .map_err(provider_failure)?;
                match sale {
                    Authorization::Declined { reason } => {
                        self.payments.record_decline(key, &reason).await?;
                        return self.reload(key).await;
                    }
                    Authorization::Approved { reference } => reference,
                }
            }
            PaymentStatus::Authorized => {
                (|| self.provider.capture(key))
                    .retry(self.backoff())
                    .when(|err| matches!(err, ProviderError::Transient(_)))
                    .notify(|err, delay| tracing::warn!(error = %err, ?delay, "capture failed; retrying"))
                    .await
                    .map_err(provider_failure)?;
                payment.provider_reference.clone().unwrap_or_default()
            }
            _ => return Ok(payment),
        };
        if self.payments.record_capture(key, &reference).await? {
            // Stored exactly so (the write was conditional on the state it left): no read back.
            payment.status = PaymentStatus::Captured;
            payment.provider_reference = Some(reference);
            payment.updated_at = Utc::now();
            return Ok(payment);
        }
        // Someone else moved it while the processor was charging. Another holder's capture
        // of the same sale is fine; a compensation that stopped it (FAILED, after this
        // call's lease ran out) means the money just taken must go back.
        let now = self.reload(key).await?;
        if now.status == PaymentStatus::Failed {
            self.refund_at_processor(key).await?;
        }
        Ok(now)
    }

    pub(super) async fn void(&self, key: Uuid) -> Result<(), PaymentError> {
        (|| self.provider.void(key))
            .retry(self.backoff())
            .when(|err| matches!(err, ProviderError::Transient(_)))
            .await
            .map_err(provider_failure)
    }

    /// Gives captured money back at the processor (once per key there).
    pub(super) async fn refund_at_processor(&self, key: Uuid) -> Result<(), PaymentError> {
        (|| self.provider.refund(key))
            .retry(self.backoff())
            .when(|err| matches!(err, ProviderError::Transient(_)))
            .notify(|err, delay| tracing::warn!(error = %err, ?delay, "refund failed; retrying"))
            .await
            .map_err(|err| match err {
                ProviderError::Transient(reason) => PaymentError::Unavailable(reason),
                ProviderError::Rejected(reason) => PaymentError::Unexpected(anyhow::anyhow!(
                    "the processor refused the refund: {reason}"
                )),
            })
    }

    pub(super) async fn reload(&self, order_id: Uuid) -> Result<Payment, PaymentError> {
        self.payments
            .get(order_id)
            .await?
            .ok_or(PaymentError::NotFound)
    }
}

fn provider_failure(err: ProviderError) -> PaymentError {
    match err {
        ProviderError::Transient(reason) => PaymentError::Unavailable(reason),
        ProviderError::Rejected(reason) => {
            PaymentError::Unexpected(anyhow::anyhow!("the processor refused: {reason}"))
        }
    }
}

fn count(payment: &Payment) {
    metrics::counter!("payments_charges_total", "status" => payment.status.as_str()).increment(1);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use mockall::Sequence;
    use shop_events::Money;

    use crate::app::ports::{
        Authorization, MockPaymentStore, MockProcessorPort, OpenError, Opened, ProviderError,
    };
    use crate::app::{PaymentError, PaymentPolicy, Payments};
    use crate::domain::{CardToken, ChargeRequest, Payment, PaymentStatus};

    fn request() -> ChargeRequest {
        ChargeRequest {
            order_id: uuid::Uuid::now_v7(),
            user_id: uuid::Uuid::now_v7(),
            amount: Money::new(2500, "EUR").unwrap(),
            card: CardToken::parse("tok_visa").unwrap(),
        }
    }

    fn payment(request: &ChargeRequest, status: PaymentStatus) -> Payment {
        Payment {
            id: uuid::Uuid::now_v7(),
            order_id: request.order_id,
            user_id: request.user_id,
            status,
            amount: request.amount.clone(),
            provider_reference: None,
            failure_reason: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            refunded_at: None,
        }
    }

    fn app(payments: MockPaymentStore, provider: MockProcessorPort) -> Payments {
        Payments::new(
            Arc::new(payments),
            Arc::new(provider),
            PaymentPolicy {
                lease: Duration::from_secs(5),
                max_wait: Duration::from_millis(200),
                provider_attempts: 3,
            },
        )
    }

    /// The sale's outcome is the one write after the processor's answer.
    fn expect_recorded_capture(payments: &mut MockPaymentStore) {
        payments
            .expect_record_capture()
            .withf(|_, reference| reference == "auth_1")
            .times(1)
            .returning(|_, _| Ok(true));
    }

    /// A processor that approves the card as `auth_1` and captures it in the same call.
    fn approving_processor() -> MockProcessorPort {
        let mut provider = MockProcessorPort::new();
        provider.expect_sale().times(1).returning(|_, _, _| {
            Ok(Authorization::Approved {
                reference: "auth_1".to_owned(),
            })
        });
        provider.expect_capture().never();
        provider
    }

    /// A payment an earlier call opened: this one holds no lease yet.
    fn existing(payment: &Payment) -> Opened {
        Opened {
            payment: payment.clone(),
            leased: false,
        }
    }

    /// A store whose payment goes through `statuses` on successive reads after the lease.
    fn store(request: &ChargeRequest, after_lease: Vec<PaymentStatus>) -> MockPaymentStore {
        let mut payments = MockPaymentStore::new();
        let pending = payment(request, PaymentStatus::Pending);
        let opened = pending.clone();
        payments
            .expect_open()
            .returning(move |_, _, _, _| Ok(existing(&opened)));
        let leased = pending.clone();
        payments
            .expect_acquire_lease()
            .returning(move |_, _| Ok(Some(leased.clone())));
        payments.expect_release_lease().returning(|_| Ok(()));
        let mut reads = after_lease
            .into_iter()
            .map(move |s| Payment {
                status: s,
                ..pending.clone()
            })
            .collect::<Vec<_>>();
        reads.reverse();
        let reads = std::sync::Mutex::new(reads);
        payments
            .expect_get()
            .returning(move |_| Ok(reads.lock().unwrap().pop()));
        payments
    }

    #[tokio::test]
    async fn an_approved_card_is_captured_in_one_call_and_one_write() {
        let request = request();
        let mut payments = store(&request, vec![]);
        expect_recorded_capture(&mut payments);

        let paid = app(payments, approving_processor())
            .charge(request)
            .await
            .unwrap();
        assert_eq!(paid.status, PaymentStatus::Captured);
    }

    #[tokio::test]
    async fn a_declined_card_is_recorded_and_nothing_is_captured() {
        let request = request();
        let mut payments = store(&request, vec![PaymentStatus::Declined]);
        payments
            .expect_record_decline()
            .withf(|_, reason| reason == "card_declined")
            .times(1)
            .returning(|_, _| Ok(true));
        let mut provider = MockProcessorPort::new();
        provider.expect_sale().returning(|_, _, _| {
            Ok(Authorization::Declined {
                reason: "card_declined".to_owned(),
            })
        });
        provider.expect_capture().never();

        let declined = app(payments, provider).charge(request).await.unwrap();
        assert_eq!(declined.status, PaymentStatus::Declined);
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_with_the_same_key_and_then_succeeds() {
        let request = request();
        let key = request.order_id;
        let mut payments = store(&request, vec![]);
        payments
            .expect_record_capture()
            .times(1)
            .returning(|_, _| Ok(true));
        let mut provider = MockProcessorPort::new();
        let mut sequence = Sequence::new();
        provider
            .expect_sale()
            .withf(move |k, _, _| *k == key)
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_, _, _| Err(ProviderError::Transient("timeout".to_owned())));
        provider
            .expect_sale()
            .withf(move |k, _, _| *k == key)
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_, _, _| {
                Ok(Authorization::Approved {
                    reference: "auth_2".to_owned(),
                })
            });

        let paid = app(payments, provider).charge(request).await.unwrap();
        assert_eq!(paid.status, PaymentStatus::Captured);
    }

    #[tokio::test]
    async fn when_the_processor_stays_down_the_call_is_unavailable_and_the_lease_released() {
        let request = request();
        let payments = store(&request, vec![]);
        let mut provider = MockProcessorPort::new();
        provider
            .expect_sale()
            .times(3)
            .returning(|_, _, _| Err(ProviderError::Transient("503".to_owned())));

        let err = app(payments, provider).charge(request).await.unwrap_err();
        assert!(matches!(err, PaymentError::Unavailable(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_authorization_left_by_an_earlier_version_is_captured_with_retries() {
        let request = request();
        let mut payments = MockPaymentStore::new();
        let authorized = Payment {
            provider_reference: Some("auth_3".to_owned()),
            ..payment(&request, PaymentStatus::Authorized)
        };
        payments
            .expect_open()
            .returning(move |_, _, _, _| Ok(existing(&authorized)));
        let leased = Payment {
            provider_reference: Some("auth_3".to_owned()),
            ..payment(&request, PaymentStatus::Authorized)
        };
        payments
            .expect_acquire_lease()
            .returning(move |_, _| Ok(Some(leased.clone())));
        payments.expect_release_lease().returning(|_| Ok(()));
        payments
            .expect_record_capture()
            .withf(|_, reference| reference == "auth_3")
            .times(1)
            .returning(|_, _| Ok(true));
        let mut provider = MockProcessorPort::new();
        provider.expect_sale().never();
        let mut sequence = Sequence::new();
        provider
            .expect_capture()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_| Err(ProviderError::Transient("reset".to_owned())));
        provider
            .expect_capture()
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_| Ok(()));

        assert_eq!(
            app(payments, provider)
                .charge(request)
                .await
                .unwrap()
                .status,
            PaymentStatus::Captured
        );
    }

    #[tokio::test]
    async fn a_sale_whose_write_finds_the_payment_moved_is_refunded_only_if_it_was_stopped() {
        // Stopped by a compensation (its lease had run out): the money just taken goes back.
        // Captured by another holder of the same sale: nothing to give back.
        for (found, refunds) in [(PaymentStatus::Failed, 1), (PaymentStatus::Captured, 0)] {
            let request = request();
            let mut payments = store(&request, vec![found]);
            payments.expect_record_capture().returning(|_, _| Ok(false));
            let mut provider = MockProcessorPort::new();
            provider.expect_sale().returning(|_, _, _| {
                Ok(Authorization::Approved {
                    reference: "auth_4".to_owned(),
                })
            });
            provider
                .expect_refund()
                .times(refunds)
                .returning(|_| Ok(()));

            let payment = app(payments, provider).charge(request).await.unwrap();
            assert_eq!(payment.status, found);
        }
    }

    #[tokio::test]
    async fn the_call_that_opens_the_payment_holds_its_lease_without_taking_it_again() {
        let request = request();
        let mut payments = MockPaymentStore::new();
        let opened = payment(&request, PaymentStatus::Pending);
        payments
            .expect_open()
            .times(1)
            .returning(move |_, _, _, _| {
                Ok(Opened {
                    payment: opened.clone(),
                    leased: true,
                })
            });
        payments.expect_acquire_lease().never();
        payments
            .expect_release_lease()
            .times(1)
            .returning(|_| Ok(()));
        // Its own conditional writes say what the payment became: nothing is read back.
        payments.expect_get().never();
        expect_recorded_capture(&mut payments);

        let paid = app(payments, approving_processor())
            .charge(request)
            .await
            .unwrap();
        assert_eq!(paid.status, PaymentStatus::Captured);
        assert_eq!(paid.provider_reference.as_deref(), Some("auth_1"));
    }

    /// The database went away as the charge was settled: its lease is given back once the
    /// database answers, not left for the next caller to wait out.
    #[tokio::test]
    async fn a_lease_that_could_not_be_released_is_released_once_the_database_answers() {
        let request = request();
        let order_id = request.order_id;
        let mut payments = MockPaymentStore::new();
        let opened = payment(&request, PaymentStatus::Pending);
        payments.expect_open().returning(move |_, _, _, _| {
            Ok(Opened {
                payment: opened.clone(),
                leased: true,
            })
        });
        expect_recorded_capture(&mut payments);
        let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (released, mut on_release) = tokio::sync::mpsc::unbounded_channel();
        let counted = attempts.clone();
        payments.expect_release_lease().returning(move |id| {
            // The database answers again at the third attempt.
            if counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 {
                return Err(anyhow::anyhow!("connection refused"));
            }
            released.send(id).unwrap();
            Ok(())
        });

        let charged = app(payments, approving_processor()).charge(request).await;
        assert!(
            charged.is_err(),
            "the lease could not be given back: {charged:?}"
        );
        let released = tokio::time::timeout(Duration::from_secs(4), on_release.recv())
            .await
            .expect("released within the lease's time");
        assert_eq!(released, Some(order_id));
        assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_settled_payment_is_returned_without_calling_the_processor() {
        let request = request();
        let mut payments = MockPaymentStore::new();
        let captured = payment(&request, PaymentStatus::Captured);
        payments
            .expect_open()
            .returning(move |_, _, _, _| Ok(existing(&captured)));
        let mut provider = MockProcessorPort::new();
        provider.expect_sale().never();
        assert_eq!(
            app(payments, provider)
                .charge(request)
                .await
                .unwrap()
                .status,
            PaymentStatus::Captured
        );
    }

    #[tokio::test]
    async fn another_amount_for_the_same_order_is_refused() {
        let request = request();
        let mut payments = MockPaymentStore::new();
        let other = payment(&request, PaymentStatus::Captured);
        payments
            .expect_open()
            .returning(move |_, _, _, _| Err(OpenError::Conflict(Box::new(other.clone()))));
        let err = app(payments, MockProcessorPort::new())
            .charge(request)
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::AmountMismatch), "{err:?}");
    }

    #[tokio::test]
    async fn a_call_that_finds_the_lease_taken_waits_for_the_holders_outcome() {
        let request = request();
        let mut payments = MockPaymentStore::new();
        let pending = payment(&request, PaymentStatus::Pending);
        let opened = pending.clone();
        payments
            .expect_open()
            .returning(move |_, _, _, _| Ok(existing(&opened)));
        payments.expect_acquire_lease().returning(|_, _| Ok(None));
        let captured = Payment {
            status: PaymentStatus::Captured,
            ..pending
        };
        payments
            .expect_get()
            .returning(move |_| Ok(Some(captured.clone())));
        let mut provider = MockProcessorPort::new();
        provider.expect_sale().never();

        assert_eq!(
            app(payments, provider)
                .charge(request)
                .await
                .unwrap()
                .status,
            PaymentStatus::Captured
        );
    }
}
