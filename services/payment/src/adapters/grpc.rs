//! The gRPC face of the payment service: decodes requests, calls the use cases, maps their
//! errors to status codes. The only place that knows both.

use shop_auth::grpc::caller;
use shop_platform::access::{AccessTable, Allow, Rule};
use shop_platform::grpc_status;
use shop_proto::common::v1::Money as PbMoney;
use shop_proto::convert::timestamp;
use shop_proto::payment::v1 as pb;
use shop_proto::payment::v1::payment_service_server::PaymentService;
use tonic::{Request, Response, Status};

use crate::app::{PaymentError, Payments};
use crate::domain::{ChargeRequest, Payment, PaymentStatus};

/// Who may call each RPC. Money moves only for the order service's saga; a person may read
/// the payment of their own order.
pub static ACCESS: AccessTable = AccessTable::new(
    "shop.payment.v1.PaymentService",
    &[
        Rule::new("Charge", &[Allow::Service("order")]),
        Rule::new("Refund", &[Allow::Service("order")]),
        Rule::new("GetPayment", &[Allow::Customers]),
    ],
);

/// Implements `shop.payment.v1.PaymentService` over the [`Payments`] application.
#[derive(Debug, Clone)]
pub struct GrpcPaymentService {
    payments: Payments,
}

impl GrpcPaymentService {
    pub fn new(payments: Payments) -> Self {
        Self { payments }
    }
}

impl From<PaymentError> for Status {
    fn from(err: PaymentError) -> Self {
        match err {
            PaymentError::Invalid(violations) => grpc_status::invalid_argument(&violations),
            PaymentError::NotFound => Status::not_found("no payment for this order"),
            PaymentError::AmountMismatch => grpc_status::with_reason(
                tonic::Code::FailedPrecondition,
                "PAYMENT_MISMATCH",
                "the order was already charged with a different amount",
                &[],
            ),
            PaymentError::Unavailable(reason) => {
                tracing::warn!(reason, "card processor unavailable");
                Status::unavailable("the card processor is unavailable; retry later")
            }
            PaymentError::Unexpected(err) => grpc_status::internal(&err),
        }
    }
}

fn payment_status(status: PaymentStatus) -> pb::PaymentStatus {
    match status {
        PaymentStatus::Pending => pb::PaymentStatus::Pending,
        PaymentStatus::Authorized => pb::PaymentStatus::Authorized,
        PaymentStatus::Captured => pb::PaymentStatus::Captured,
        PaymentStatus::Declined => pb::PaymentStatus::Declined,
        PaymentStatus::Refunded => pb::PaymentStatus::Refunded,
        PaymentStatus::Failed => pb::PaymentStatus::Failed,
    }
}

fn payment(p: &Payment) -> pb::Payment {
    pb::Payment {
        id: p.id.to_string(),
        order_id: p.order_id.to_string(),
        user_id: p.user_id.to_string(),
        status: payment_status(p.status).into(),
        amount: Some(PbMoney::from(&p.amount)),
        provider_reference: p.provider_reference.clone().unwrap_or_default(),
        failure_reason: p.failure_reason.clone().unwrap_or_default(),
        created_at: Some(timestamp(p.created_at)),
        updated_at: Some(timestamp(p.updated_at)),
        refunded_at: p.refunded_at.map(timestamp),
    }
}

#[tonic::async_trait]
impl PaymentService for GrpcPaymentService {
    async fn charge(
        &self,
        request: Request<pb::ChargeRequest>,
    ) -> Result<Response<pb::ChargeResponse>, Status> {
        let r = request.into_inner();
        let charge = ChargeRequest::parse(
            &r.order_id,
            &r.user_id,
            r.amount
                .as_ref()
                .map(|m| (m.amount_minor, m.currency.as_str())),
            &r.card_token,
        )
        .map_err(|violations| grpc_status::invalid_argument(&violations))?;
        let paid = self.payments.charge(charge).await?;
        Ok(Response::new(pb::ChargeResponse {
            payment: Some(payment(&paid)),
        }))
    }

    async fn refund(
        &self,
        request: Request<pb::RefundRequest>,
    ) -> Result<Response<pb::RefundResponse>, Status> {
        let r = request.into_inner();
        let refunded = self.payments.refund_request(&r.order_id, &r.reason).await?;
        Ok(Response::new(pb::RefundResponse {
            payment: Some(payment(&refunded)),
        }))
    }

    async fn get_payment(
        &self,
        request: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::GetPaymentResponse>, Status> {
        let caller = caller(&request)?;
        let found = self
            .payments
            .get_payment(&caller, &request.get_ref().order_id)
            .await?;
        Ok(Response::new(pb::GetPaymentResponse {
            payment: Some(payment(&found)),
        }))
    }
}
