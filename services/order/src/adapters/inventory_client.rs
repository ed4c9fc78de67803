//! The inventory service as the saga's [`InventoryPort`]: a gRPC client that turns status codes
//! into "refused for good" or "try again".

use std::time::Duration;

use async_trait::async_trait;
use shop_auth::IdentifiedChannel;
use shop_events::Money;
use shop_platform::grpc_status;
use shop_proto::inventory::v1 as pb;
use shop_proto::inventory::v1::inventory_service_client::InventoryServiceClient;
use tonic::Code;
use uuid::Uuid;

use crate::app::ports::{CatalogPort, InventoryPort, Reserved, StepError};
use crate::domain::{CatalogProduct, PricedLine, RejectReason, RequestedLine};

#[derive(Debug, Clone)]
pub struct InventoryClient {
    client: InventoryServiceClient<IdentifiedChannel>,
    timeout: Duration,
}

impl InventoryClient {
    /// Each call gives up after `timeout` (sent as the gRPC deadline, so inventory stops too).
    pub fn new(channel: IdentifiedChannel, timeout: Duration) -> Self {
        Self {
            client: InventoryServiceClient::new(channel),
            timeout,
        }
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.timeout);
        request
    }
}

/// Codes that say "not now" rather than "no": the step may be repeated.
pub(crate) fn is_transient(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
            | Code::Unknown
            | Code::Cancelled
    )
}

fn step_error(status: &tonic::Status) -> StepError {
    if is_transient(status.code()) {
        return StepError::Transient(format!("{:?}: {}", status.code(), status.message()));
    }
    let product = grpc_status::metadata_of(status, "product_id").unwrap_or_default();
    match (status.code(), grpc_status::reason_of(status).as_deref()) {
        (Code::FailedPrecondition, Some("OUT_OF_STOCK")) => StepError::Refused {
            reason: RejectReason::OutOfStock,
            detail: product,
        },
        (Code::NotFound, _) => StepError::Refused {
            reason: RejectReason::UnknownProduct,
            detail: product,
        },
        (Code::FailedPrecondition, Some("ORDER_TOTAL_TOO_LARGE")) => StepError::Refused {
            reason: RejectReason::TotalTooLarge,
            detail: String::new(),
        },
        // The timeline is the customer's: the peer's words go to the log, not there.
        _ => {
            tracing::warn!(code = ?status.code(), message = status.message(), "inventory refused a reservation");
            StepError::Refused {
                reason: RejectReason::Refused,
                detail: String::new(),
            }
        }
    }
}

fn money(money: Option<&shop_proto::common::v1::Money>) -> Result<Money, StepError> {
    let money = money.ok_or_else(|| StepError::Transient("inventory sent no price".to_owned()))?;
    shop_proto::convert::money(money)
        .map_err(|err| StepError::Transient(format!("inventory sent an invalid price: {err}")))
}

#[async_trait]
impl InventoryPort for InventoryClient {
    async fn reserve(
        &self,
        order_id: Uuid,
        lines: &[RequestedLine],
    ) -> Result<Reserved, StepError> {
        let request = self.request(pb::ReserveStockRequest {
            order_id: order_id.to_string(),
            lines: lines
                .iter()
                .map(|l| pb::ReservationLine {
                    product_id: l.product_id.to_string(),
                    quantity: l.quantity,
                })
                .collect(),
        });
        let reservation = self
            .client
            .clone()
            .reserve_stock(request)
            .await
            .map_err(|status| step_error(&status))?
            .into_inner()
            .reservation
            .ok_or_else(|| StepError::Transient("inventory sent no reservation".to_owned()))?;
        let lines = reservation
            .lines
            .iter()
            .map(|line| {
                let product_id = Uuid::parse_str(&line.product_id).map_err(|_| {
                    StepError::Transient("inventory sent a bad product id".to_owned())
                })?;
                Ok((
                    product_id,
                    PricedLine {
                        name: line.name.clone(),
                        unit_price: money(line.unit_price.as_ref())?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, StepError>>()?;
        Ok(Reserved {
            lines,
            total: money(reservation.total.as_ref())?,
        })
    }

    async fn release(&self, order_id: Uuid) -> Result<(), StepError> {
        let request = self.request(pb::ReleaseReservationRequest {
            order_id: order_id.to_string(),
        });
        self.client
            .clone()
            .release_reservation(request)
            .await
            .map_err(|status| step_error(&status))?;
        Ok(())
    }
}

#[async_trait]
impl CatalogPort for InventoryClient {
    async fn products(&self, ids: &[Uuid]) -> Result<Vec<CatalogProduct>, StepError> {
        let request = self.request(pb::BatchGetProductsRequest {
            product_ids: ids.iter().map(Uuid::to_string).collect(),
        });
        let products = self
            .client
            .clone()
            .batch_get_products(request)
            .await
            .map_err(|status| {
                StepError::Transient(format!("{:?}: {}", status.code(), status.message()))
            })?
            .into_inner()
            .products;
        products
            .iter()
            .map(|p| {
                Ok(CatalogProduct {
                    id: Uuid::parse_str(&p.id).map_err(|_| {
                        StepError::Transient("inventory sent a bad product id".to_owned())
                    })?,
                    name: p.name.clone(),
                    unit_price: money(p.price.as_ref())?,
                    available: p.available,
                    active: p.active,
                })
            })
            .collect()
    }
}
