//! Refund (saga compensation, and the reaction to `order.cancelled`): make sure an order's
//! payment keeps no money, exactly once.

use std::time::Instant;

use shop_platform::validation::Violations;
use uuid::Uuid;

use super::{PaymentError, Payments};
use crate::domain::{Payment, PaymentStatus};

const POLL: std::time::Duration = std::time::Duration::from_millis(20);
const MAX_REASON: usize = 200;

impl Payments {
    /// `order.cancelled`: the order's money goes back. A refund is idempotent by order id on
    /// its own (it talks to the processor, so it cannot share a transaction with an inbox
    /// entry), and an order that never paid has nothing to refund.
    pub async fn refund_cancelled_order(&self, order_id: Uuid) -> Result<(), PaymentError> {
        match self.refund(order_id, "order_cancelled").await {
            Ok(_) | Err(PaymentError::NotFound) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Parses the request, then refunds.
    pub async fn refund_request(
        &self,
        order_id: &str,
        reason: &str,
    ) -> Result<Payment, PaymentError> {
        let mut violations = Violations::new();
        let order_id = violations.check(
            "order_id",
            Uuid::parse_str(order_id).map_err(|_| "must be a UUID"),
        );
        if violations.text("reason", reason) && reason.chars().count() > MAX_REASON {
            violations.add("reason", format!("must be at most {MAX_REASON} characters"));
        }
        let Some(order_id) = order_id else {
            return Err(violations.into());
        };
        violations.into_result()?;
        let reason = if reason.trim().is_empty() {
            "requested"
        } else {
            reason.trim()
        };
        self.refund(order_id, reason).await
    }

    /// Captured money is refunded (`payment.refunded` once), an authorization voided, a charge
    /// in progress stopped. What took no money is returned as it is.
    #[tracing::instrument(name = "payments.refund", skip_all, fields(%order_id), err(Debug))]
    pub async fn refund(&self, order_id: Uuid, reason: &str) -> Result<Payment, PaymentError> {
        let deadline = Instant::now() + self.policy.max_wait;
        loop {
            let payment = self.reload(order_id).await?;
            if matches!(
                payment.status,
                PaymentStatus::Refunded | PaymentStatus::Declined | PaymentStatus::Failed
            ) {
                return Ok(payment);
            }
            if let Some(leased) = self
                .payments
                .acquire_lease(order_id, self.policy.lease)
                .await?
            {
                let outcome = self.give_back(&leased, reason).await;
                self.payments.release_lease(order_id).await?;
                return outcome;
            }
            if Instant::now() >= deadline {
                return Err(PaymentError::Unavailable(
                    "a charge of this order is still in progress".to_owned(),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn give_back(&self, payment: &Payment, reason: &str) -> Result<Payment, PaymentError> {
        let key = payment.order_id;
        match payment.status {
            PaymentStatus::Pending => {
                // We hold the lease, so nobody is talking to the processor for this payment:
                // stopping it here means it will never be charged.
                self.payments
                    .record_failure(
                        key,
                        PaymentStatus::Pending,
                        "stopped before the card was charged",
                    )
                    .await?;
            }
            PaymentStatus::Authorized => {
                self.void(key).await?;
                self.payments
                    .record_failure(key, PaymentStatus::Authorized, "authorization voided")
                    .await?;
            }
            PaymentStatus::Captured => {
                self.refund_at_processor(key).await?;
                if self.payments.record_refund(key, reason).await? {
                    metrics::counter!("payments_refunds_total").increment(1);
                }
            }
            // Settled meanwhile: nothing left to give back.
            PaymentStatus::Declined | PaymentStatus::Refunded | PaymentStatus::Failed => {}
        }
        self.reload(key).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use shop_events::Money;

    use crate::app::ports::{MockPaymentStore, MockProcessorPort};
    use crate::app::{PaymentError, PaymentPolicy, Payments};
    use crate::domain::{Payment, PaymentStatus};

    fn payment(status: PaymentStatus) -> Payment {
        Payment {
            id: uuid::Uuid::now_v7(),
            order_id: uuid::Uuid::now_v7(),
            user_id: uuid::Uuid::now_v7(),
            status,
            amount: Money::new(100, "EUR").unwrap(),
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
                max_wait: Duration::from_millis(100),
                provider_attempts: 2,
            },
        )
    }

    #[tokio::test]
    async fn a_captured_payment_is_refunded_at_the_processor_then_recorded() {
        let captured = payment(PaymentStatus::Captured);
        let refunded = Payment {
            status: PaymentStatus::Refunded,
            ..captured.clone()
        };
        let mut payments = MockPaymentStore::new();
        let reads = std::sync::Mutex::new(vec![refunded, captured.clone()]);
        payments
            .expect_get()
            .returning(move |_| Ok(reads.lock().unwrap().pop()));
        payments
            .expect_acquire_lease()
            .returning(move |_, _| Ok(Some(captured.clone())));
        payments
            .expect_record_refund()
            .times(1)
            .returning(|_, _| Ok(true));
        payments.expect_release_lease().returning(|_| Ok(()));
        let mut provider = MockProcessorPort::new();
        provider.expect_refund().times(1).returning(|_| Ok(()));

        let done = app(payments, provider)
            .refund(uuid::Uuid::now_v7(), "order_cancelled")
            .await
            .unwrap();
        assert_eq!(done.status, PaymentStatus::Refunded);
    }

    #[tokio::test]
    async fn a_payment_that_took_no_money_is_left_alone() {
        for status in [
            PaymentStatus::Declined,
            PaymentStatus::Failed,
            PaymentStatus::Refunded,
        ] {
            let mut payments = MockPaymentStore::new();
            let settled = payment(status);
            payments
                .expect_get()
                .returning(move |_| Ok(Some(settled.clone())));
            payments.expect_acquire_lease().never();
            let mut provider = MockProcessorPort::new();
            provider.expect_refund().never();
            let done = app(payments, provider)
                .refund(uuid::Uuid::now_v7(), "x")
                .await
                .unwrap();
            assert_eq!(done.status, status);
        }
    }

    #[tokio::test]
    async fn no_payment_at_all_is_not_found() {
        let mut payments = MockPaymentStore::new();
        payments.expect_get().returning(|_| Ok(None));
        let err = app(payments, MockProcessorPort::new())
            .refund(uuid::Uuid::now_v7(), "x")
            .await
            .unwrap_err();
        assert!(matches!(err, PaymentError::NotFound), "{err:?}");
    }
}
