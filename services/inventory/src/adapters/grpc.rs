//! The gRPC face of the inventory service: decodes requests, calls the use cases, maps their
//! errors to status codes. The only place that knows both.

use shop_auth::grpc::optional_caller;
use shop_platform::access::{AccessTable, Allow, Rule};
use shop_platform::grpc_status;
use shop_platform::validation::Violations;
use shop_proto::common::v1::{Money as PbMoney, PageResponse};
use shop_proto::convert::timestamp;
use shop_proto::inventory::v1 as pb;
use shop_proto::inventory::v1::inventory_service_server::InventoryService;
use tonic::{Code, Request, Response, Status};

use crate::app::{CreateProduct, Inventory, InventoryError};
use crate::domain::{
    ListOrder, MAX_ORDER_TOTAL_MINOR, Product, ProductPatch, Reservation, ReservationStatus,
};

/// Who may call each RPC. The catalog is public, its writes are the admins', and stock is
/// reserved and released only by the order service's saga.
pub static ACCESS: AccessTable = AccessTable::new(
    "shop.inventory.v1.InventoryService",
    &[
        Rule::new("ListProducts", &[Allow::Anyone]),
        Rule::new("GetProduct", &[Allow::Anyone]),
        Rule::new("BatchGetProducts", &[Allow::Anyone]),
        Rule::new("CreateProduct", &[Allow::Admins]),
        Rule::new("UpdateProduct", &[Allow::Admins]),
        Rule::new("AdjustStock", &[Allow::Admins]),
        Rule::new("ReserveStock", &[Allow::Service("order")]),
        Rule::new("ReleaseReservation", &[Allow::Service("order")]),
    ],
);

/// Implements `shop.inventory.v1.InventoryService` over the [`Inventory`] application.
#[derive(Debug, Clone)]
pub struct GrpcInventoryService {
    inventory: Inventory,
}

impl GrpcInventoryService {
    pub fn new(inventory: Inventory) -> Self {
        Self { inventory }
    }
}

impl From<InventoryError> for Status {
    fn from(err: InventoryError) -> Self {
        match err {
            InventoryError::Invalid(violations) => grpc_status::invalid_argument(&violations),
            InventoryError::NotFound => Status::not_found("no such product"),
            InventoryError::UnknownProduct(id) => grpc_status::with_reason(
                Code::NotFound,
                "PRODUCT_NOT_FOUND",
                format!("product {id} does not exist or is not for sale"),
                &[("product_id", id.to_string())],
            ),
            InventoryError::OutOfStock(id) => grpc_status::with_reason(
                Code::FailedPrecondition,
                "OUT_OF_STOCK",
                format!("product {id} is out of stock"),
                &[("product_id", id.to_string())],
            ),
            InventoryError::FailedPrecondition(message) => Status::failed_precondition(message),
            InventoryError::OrderTooLarge => grpc_status::with_reason(
                Code::FailedPrecondition,
                "ORDER_TOTAL_TOO_LARGE",
                "the order total is above the largest the shop accepts",
                &[("max_total_minor", MAX_ORDER_TOTAL_MINOR.to_string())],
            ),
            InventoryError::Unexpected(err) => grpc_status::internal(&err),
        }
    }
}

fn product(p: &Product) -> pb::Product {
    pb::Product {
        id: p.id.to_string(),
        name: p.name.clone(),
        description: p.description.clone(),
        price: Some(PbMoney::from(&p.price)),
        image_url: p.image_url.clone(),
        available: p.stock.available(),
        reserved: p.stock.reserved(),
        sold: p.stock.sold(),
        active: p.active,
        created_at: Some(timestamp(p.created_at)),
        updated_at: Some(timestamp(p.updated_at)),
    }
}

fn reservation_status(status: ReservationStatus) -> pb::ReservationStatus {
    match status {
        ReservationStatus::Reserved => pb::ReservationStatus::Reserved,
        ReservationStatus::Committed => pb::ReservationStatus::Committed,
        ReservationStatus::Released => pb::ReservationStatus::Released,
        ReservationStatus::Expired => pb::ReservationStatus::Expired,
    }
}

fn reservation(r: &Reservation) -> pb::Reservation {
    pb::Reservation {
        order_id: r.order_id.to_string(),
        lines: r
            .lines
            .iter()
            .map(|l| pb::ReservedLine {
                product_id: l.product_id.to_string(),
                name: l.name.clone(),
                quantity: l.quantity.get(),
                unit_price: Some(PbMoney::from(&l.unit_price)),
            })
            .collect(),
        total: Some(PbMoney::from(&r.total)),
        status: reservation_status(r.status).into(),
        expires_at: Some(timestamp(r.expires_at)),
    }
}

#[tonic::async_trait]
impl InventoryService for GrpcInventoryService {
    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        // Inactive products are for admins' eyes only; for anyone else the flag is ignored.
        let is_admin = optional_caller(&request).is_some_and(|c| c.is_admin());
        let request = request.into_inner();
        let page = request.page.unwrap_or_default();
        let order = match pb::ProductOrder::try_from(request.order) {
            Ok(pb::ProductOrder::Unspecified | pb::ProductOrder::Name) => ListOrder::Name,
            Ok(pb::ProductOrder::PriceAscending) => ListOrder::PriceAscending,
            Ok(pb::ProductOrder::PriceDescending) => ListOrder::PriceDescending,
            Err(_) => {
                let mut violations = Violations::new();
                violations.add("order", "is not a product order");
                return Err(InventoryError::Invalid(violations).into());
            }
        };
        let listed = self
            .inventory
            .list_products(
                page.page_size,
                &page.page_token,
                &request.query,
                request.include_inactive && is_admin,
                order,
            )
            .await?;
        Ok(Response::new(pb::ListProductsResponse {
            products: listed.products.iter().map(product).collect(),
            page: Some(PageResponse {
                next_page_token: listed.next_page_token.unwrap_or_default(),
            }),
        }))
    }

    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::GetProductResponse>, Status> {
        let found = self
            .inventory
            .get_product(&request.get_ref().product_id)
            .await?;
        Ok(Response::new(pb::GetProductResponse {
            product: Some(product(&found)),
        }))
    }

    async fn batch_get_products(
        &self,
        request: Request<pb::BatchGetProductsRequest>,
    ) -> Result<Response<pb::BatchGetProductsResponse>, Status> {
        let found = self
            .inventory
            .batch_get_products(&request.get_ref().product_ids)
            .await?;
        Ok(Response::new(pb::BatchGetProductsResponse {
            products: found.iter().map(product).collect(),
        }))
    }

    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::CreateProductResponse>, Status> {
        let r = request.into_inner();
        let created = self
            .inventory
            .create_product(CreateProduct {
                request_id: r.request_id,
                name: r.name,
                description: r.description,
                price: r.price.map(|p| (p.amount_minor, p.currency)),
                image_url: r.image_url,
                initial_stock: r.initial_stock,
            })
            .await?;
        Ok(Response::new(pb::CreateProductResponse {
            product: Some(product(&created)),
        }))
    }

    async fn update_product(
        &self,
        request: Request<pb::UpdateProductRequest>,
    ) -> Result<Response<pb::UpdateProductResponse>, Status> {
        let r = request.into_inner();
        let patch = ProductPatch::parse(
            r.name.as_deref(),
            r.description.as_deref(),
            r.price
                .as_ref()
                .map(|p| (p.amount_minor, p.currency.as_str())),
            r.image_url.as_deref(),
            r.active,
        );
        let updated = self.inventory.update_product(&r.product_id, patch).await?;
        Ok(Response::new(pb::UpdateProductResponse {
            product: Some(product(&updated)),
        }))
    }

    async fn adjust_stock(
        &self,
        request: Request<pb::AdjustStockRequest>,
    ) -> Result<Response<pb::AdjustStockResponse>, Status> {
        let r = request.into_inner();
        let adjusted = self
            .inventory
            .adjust_stock(&r.request_id, &r.product_id, r.delta)
            .await?;
        Ok(Response::new(pb::AdjustStockResponse {
            product: Some(product(&adjusted)),
        }))
    }

    async fn reserve_stock(
        &self,
        request: Request<pb::ReserveStockRequest>,
    ) -> Result<Response<pb::ReserveStockResponse>, Status> {
        let r = request.into_inner();
        let lines: Vec<(String, i64)> = r
            .lines
            .into_iter()
            .map(|l| (l.product_id, l.quantity))
            .collect();
        let reserved = self.inventory.reserve_stock(&r.order_id, &lines).await?;
        Ok(Response::new(pb::ReserveStockResponse {
            reservation: Some(reservation(&reserved)),
        }))
    }

    async fn release_reservation(
        &self,
        request: Request<pb::ReleaseReservationRequest>,
    ) -> Result<Response<pb::ReleaseReservationResponse>, Status> {
        let released = self
            .inventory
            .release_reservation(&request.get_ref().order_id)
            .await?;
        let status = released.map_or(pb::ReservationStatus::Unspecified, |r| {
            reservation_status(r.status)
        });
        Ok(Response::new(pb::ReleaseReservationResponse {
            status: status.into(),
        }))
    }
}
