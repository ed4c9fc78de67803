//! The payment service as the saga's [`PaymentPort`]: a gRPC client that turns status codes
//! into "refused for good" or "try again".

use std::time::Duration;

use async_trait::async_trait;
use shop_auth::IdentifiedChannel;
use shop_events::Money;
use shop_proto::common::v1::Money as PbMoney;
use shop_proto::payment::v1 as pb;
use shop_proto::payment::v1::payment_service_client::PaymentServiceClient;
use tonic::Code;
use uuid::Uuid;

use super::inventory_client::is_transient;
use crate::app::ports::{ChargeOutcome, PaymentPort, StepError};
use crate::domain::RejectReason;

#[derive(Debug, Clone)]
pub struct PaymentClient {
    client: PaymentServiceClient<IdentifiedChannel>,
    timeout: Duration,
}

impl PaymentClient {
    /// Each call gives up after `timeout` (sent as the gRPC deadline, so payment stops too).
    pub fn new(channel: IdentifiedChannel, timeout: Duration) -> Self {
        Self {
            client: PaymentServiceClient::new(channel),
            timeout,
        }
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }
}

fn step_error(status: &tonic::Status) -> StepError {
    if is_transient(status.code()) {
        StepError::Transient(format!("{:?}: {}", status.code(), status.message()))
    } else {
        // The timeline is the customer's: the peer's words go to the log, not there.
        tracing::warn!(code = ?status.code(), message = status.message(), "payment refused a charge");
        StepError::Refused {
            reason: RejectReason::Refused,
            detail: String::new(),
        }
    }
}

#[async_trait]
impl PaymentPort for PaymentClient {
    async fn charge(
        &self,
        order_id: Uuid,
        user_id: Uuid,
        amount: &Money,
        card_token: &str,
    ) -> Result<ChargeOutcome, StepError> {
        let request = self.request(pb::ChargeRequest {
            order_id: order_id.to_string(),
            amount: Some(PbMoney::from(amount)),
            card_token: card_token.to_owned(),
            user_id: user_id.to_string(),
        });
        let payment = self
            .client
            .clone()
            .charge(request)
            .await
            .map_err(|status| step_error(&status))?
            .into_inner()
            .payment
            .ok_or_else(|| StepError::Transient("payment sent no payment".to_owned()))?;
        match payment.status() {
            pb::PaymentStatus::Captured => Ok(ChargeOutcome::Captured),
            pb::PaymentStatus::Declined
            | pb::PaymentStatus::Failed
            | pb::PaymentStatus::Refunded => {
                let reason = if payment.failure_reason.is_empty() {
                    payment.status().as_str_name().to_lowercase()
                } else {
                    payment.failure_reason
                };
                Ok(ChargeOutcome::NotPaid { reason })
            }
            other => Err(StepError::Transient(format!(
                "the charge is not settled yet ({})",
                other.as_str_name()
            ))),
        }
    }

    async fn refund(&self, order_id: Uuid, reason: &str) -> Result<(), StepError> {
        let request = self.request(pb::RefundRequest {
            order_id: order_id.to_string(),
            reason: reason.to_owned(),
        });
        match self.client.clone().refund(request).await {
            Ok(_) => Ok(()),
            // No payment: nothing was ever taken.
            Err(status) if status.code() == Code::NotFound => Ok(()),
            Err(status) => Err(step_error(&status)),
        }
    }
}
