//! The gRPC face of the order service: decodes requests, calls the use cases, maps their
//! errors to status codes. The only place that knows both.

use shop_auth::grpc::caller;
use shop_platform::access::{AccessTable, Allow, Rule};
use shop_platform::grpc_status;
use shop_platform::validation::Violations;
use shop_proto::common::v1::{Money as PbMoney, PageResponse};
use shop_proto::convert::{datetime, timestamp};
use shop_proto::order::v1 as pb;
use shop_proto::order::v1::order_service_server::OrderService;
use tonic::{Code, Request, Response, Status};

use crate::app::{Carts, ListQuery, OrderError, OrderView, Orders};
use crate::domain::{
    AddressInput, Cart, CartItem, Order, OrderRequest, OrderStatus, PlaceInput, ShippingMethod,
    TimelineEntry,
};

/// Who may call each RPC: people, for their own orders (admins for anyone's; the use cases
/// check ownership) and their own cart.
pub static ACCESS: AccessTable = AccessTable::new(
    "shop.order.v1.OrderService",
    &[
        Rule::new("PlaceOrder", &[Allow::Customers]),
        Rule::new("GetOrder", &[Allow::Customers]),
        Rule::new("ListOrders", &[Allow::Customers]),
        Rule::new("CancelOrder", &[Allow::Customers]),
        Rule::new("GetCart", &[Allow::Customers]),
        Rule::new("SetCartItem", &[Allow::Customers]),
        Rule::new("ClearCart", &[Allow::Customers]),
        Rule::new("MergeCart", &[Allow::Customers]),
        Rule::new("GetShippingOptions", &[Allow::Customers]),
        Rule::new("ShipOrder", &[Allow::Admins]),
        Rule::new("DeliverOrder", &[Allow::Admins]),
    ],
);

/// Implements `shop.order.v1.OrderService` over the [`Orders`] application.
#[derive(Debug, Clone)]
pub struct GrpcOrderService {
    orders: Orders,
    carts: Carts,
}

impl GrpcOrderService {
    pub fn new(orders: Orders, carts: Carts) -> Self {
        Self { orders, carts }
    }
}

impl From<OrderError> for Status {
    fn from(err: OrderError) -> Self {
        match err {
            OrderError::Invalid(violations) => grpc_status::invalid_argument(&violations),
            OrderError::NotFound => Status::not_found("no such order"),
            OrderError::KeyReused => grpc_status::with_reason(
                Code::FailedPrecondition,
                "IDEMPOTENCY_KEY_REUSED",
                "this idempotency key was already used for a different order",
                &[],
            ),
            OrderError::InFlight => grpc_status::with_reason(
                Code::Aborted,
                "IDEMPOTENCY_KEY_IN_FLIGHT",
                "an order with this idempotency key is still being placed; retry shortly",
                &[],
            ),
            OrderError::FailedPrecondition(message) => grpc_status::with_reason(
                Code::FailedPrecondition,
                "ORDER_NOT_CANCELLABLE",
                message,
                &[],
            ),
            OrderError::Forbidden => {
                Status::permission_denied("only admins may do this to another customer's orders")
            }
            OrderError::PriceChanged(message) => {
                grpc_status::with_reason(Code::FailedPrecondition, "PRICE_CHANGED", message, &[])
            }
            OrderError::CartNotOrderable(message) => grpc_status::with_reason(
                Code::FailedPrecondition,
                "CART_NOT_ORDERABLE",
                message,
                &[],
            ),
            OrderError::AlreadyShipped(message) => grpc_status::with_reason(
                Code::FailedPrecondition,
                "ORDER_ALREADY_SHIPPED",
                message,
                &[],
            ),
            OrderError::NotFulfillable { reason, message } => {
                grpc_status::with_reason(Code::FailedPrecondition, reason, message, &[])
            }
            OrderError::Unavailable(message) => Status::unavailable(message),
            OrderError::Unexpected(err) => grpc_status::internal(&err),
        }
    }
}

/// The order status a (known, specified) protobuf status names.
fn domain_status(status: pb::OrderStatus) -> OrderStatus {
    match status {
        pb::OrderStatus::Unspecified | pb::OrderStatus::Pending => OrderStatus::Pending,
        pb::OrderStatus::Reserved => OrderStatus::Reserved,
        pb::OrderStatus::Confirmed => OrderStatus::Confirmed,
        pb::OrderStatus::Rejected => OrderStatus::Rejected,
        pb::OrderStatus::Cancelled => OrderStatus::Cancelled,
        pb::OrderStatus::Shipped => OrderStatus::Shipped,
        pb::OrderStatus::Delivered => OrderStatus::Delivered,
    }
}

/// A protobuf timestamp as an instant.
fn instant(at: prost_types::Timestamp) -> Result<chrono::DateTime<chrono::Utc>, &'static str> {
    datetime(&at).ok_or("is not a valid timestamp")
}

fn order_status(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::Pending => pb::OrderStatus::Pending,
        OrderStatus::Reserved => pb::OrderStatus::Reserved,
        OrderStatus::Confirmed => pb::OrderStatus::Confirmed,
        OrderStatus::Rejected => pb::OrderStatus::Rejected,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
        OrderStatus::Shipped => pb::OrderStatus::Shipped,
        OrderStatus::Delivered => pb::OrderStatus::Delivered,
    }
}

/// A method's name as the domain parses it; an unknown number is no method.
fn method_name(method: i32) -> &'static str {
    match pb::ShippingMethod::try_from(method) {
        Ok(pb::ShippingMethod::Standard) => ShippingMethod::Standard.as_str(),
        Ok(pb::ShippingMethod::Express) => ShippingMethod::Express.as_str(),
        _ => "",
    }
}

fn method(method: ShippingMethod) -> pb::ShippingMethod {
    match method {
        ShippingMethod::Standard => pb::ShippingMethod::Standard,
        ShippingMethod::Express => pb::ShippingMethod::Express,
    }
}

fn entry(e: &TimelineEntry) -> pb::TimelineEntry {
    pb::TimelineEntry {
        at: Some(timestamp(e.at)),
        event: e.event.as_str().to_owned(),
        detail: e.detail.clone(),
    }
}

fn order(o: &Order, timeline: &[TimelineEntry]) -> pb::Order {
    pb::Order {
        id: o.id().to_string(),
        user_id: o.user_id().to_string(),
        status: order_status(o.status()).into(),
        reason: o.reason().unwrap_or_default().to_owned(),
        lines: o
            .lines()
            .iter()
            .map(|l| pb::OrderLine {
                product_id: l.product_id.to_string(),
                name: l
                    .priced
                    .as_ref()
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                quantity: l.quantity,
                unit_price: l.priced.as_ref().map(|p| PbMoney::from(&p.unit_price)),
            })
            .collect(),
        total: o.total().map(PbMoney::from),
        created_at: Some(timestamp(o.created_at())),
        updated_at: Some(timestamp(o.updated_at())),
        timeline: timeline.iter().map(entry).collect(),
        shipping_address: o.shipping().map(|s| pb::ShippingAddress {
            name: s.address.name.clone(),
            line1: s.address.line1.clone(),
            line2: s.address.line2.clone(),
            city: s.address.city.clone(),
            postal_code: s.address.postal_code.clone(),
            country: s.address.country.as_str().to_owned(),
        }),
        shipping_method: o
            .shipping()
            .map_or(pb::ShippingMethod::Unspecified, |s| method(s.method))
            .into(),
        shipping: o.shipping().map(|s| PbMoney::from(&s.price)),
        subtotal: o.subtotal().map(PbMoney::from),
        carrier: o.tracking().map(|t| t.carrier.clone()).unwrap_or_default(),
        tracking_number: o.tracking().map(|t| t.number.clone()).unwrap_or_default(),
    }
}

fn cart(c: &Cart) -> pb::Cart {
    pb::Cart {
        lines: c
            .lines
            .iter()
            .map(|l| pb::CartLine {
                product_id: l.product_id.to_string(),
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: Some(PbMoney::from(&l.unit_price)),
                line_total: Some(PbMoney::from(&l.line_total)),
                available: l.available,
                active: l.active,
                price_changed: l.price_changed,
                seen_price: Some(PbMoney::from(&l.seen_price)),
            })
            .collect(),
        subtotal: c.subtotal.as_ref().map(PbMoney::from),
    }
}

fn view(v: &OrderView) -> pb::Order {
    order(&v.order, &v.timeline)
}

#[tonic::async_trait]
impl OrderService for GrpcOrderService {
    async fn place_order(
        &self,
        request: Request<pb::PlaceOrderRequest>,
    ) -> Result<Response<pb::PlaceOrderResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let lines: Vec<(String, i64)> = r
            .lines
            .into_iter()
            .map(|l| (l.product_id, l.quantity))
            .collect();
        let address = r.shipping_address.unwrap_or_default();
        let parsed = OrderRequest::parse(&PlaceInput {
            idempotency_key: &r.idempotency_key,
            lines: &lines,
            card_token: &r.card_token,
            address: AddressInput {
                name: &address.name,
                line1: &address.line1,
                line2: &address.line2,
                city: &address.city,
                postal_code: &address.postal_code,
                country: &address.country,
            },
            method: method_name(r.shipping_method),
            expected_total: r
                .expected_total
                .map(|m| shop_proto::convert::money(&m).map_err(|err| err.to_string())),
        })
        .map_err(|violations| grpc_status::invalid_argument(&violations))?;
        let placed = self.orders.place_order(&caller, parsed).await?;
        Ok(Response::new(pb::PlaceOrderResponse {
            order: Some(view(&placed)),
        }))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let caller = caller(&request)?;
        let found = self
            .orders
            .get_order(&caller, &request.get_ref().order_id)
            .await?;
        Ok(Response::new(pb::GetOrderResponse {
            order: Some(view(&found)),
        }))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let page = r.page.unwrap_or_default();
        let mut violations = Violations::new();
        let status = match pb::OrderStatus::try_from(r.status) {
            Ok(pb::OrderStatus::Unspecified) => None,
            Ok(known) => Some(domain_status(known)),
            Err(_) => {
                violations.add("status", "is not an order status");
                None
            }
        };
        let placed_from = violations.check("placed_from", r.placed_from.map(instant).transpose());
        let placed_before =
            violations.check("placed_before", r.placed_before.map(instant).transpose());
        if !violations.is_empty() {
            return Err(grpc_status::invalid_argument(&violations));
        }
        let query = ListQuery {
            page_size: page.page_size,
            page_token: page.page_token,
            status,
            customer_id: r.customer_id,
            placed_from: placed_from.flatten(),
            placed_before: placed_before.flatten(),
        };
        let listed = self.orders.list_orders(&caller, query).await?;
        Ok(Response::new(pb::ListOrdersResponse {
            orders: listed.orders.iter().map(|o| order(o, &[])).collect(),
            page: Some(PageResponse {
                next_page_token: listed.next_page_token.unwrap_or_default(),
            }),
        }))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let cancelled = self
            .orders
            .cancel_order(&caller, &r.order_id, &r.reason)
            .await?;
        Ok(Response::new(pb::CancelOrderResponse {
            order: Some(view(&cancelled)),
        }))
    }

    async fn get_cart(
        &self,
        request: Request<pb::GetCartRequest>,
    ) -> Result<Response<pb::GetCartResponse>, Status> {
        let caller = caller(&request)?;
        let found = self.carts.get(caller.user_id()).await?;
        Ok(Response::new(pb::GetCartResponse {
            cart: Some(cart(&found)),
        }))
    }

    async fn set_cart_item(
        &self,
        request: Request<pb::SetCartItemRequest>,
    ) -> Result<Response<pb::SetCartItemResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let item = CartItem::parse(&r.product_id, r.quantity)
            .map_err(|violations| grpc_status::invalid_argument(&violations))?;
        let updated = self.carts.set_item(caller.user_id(), item).await?;
        Ok(Response::new(pb::SetCartItemResponse {
            cart: Some(cart(&updated)),
        }))
    }

    async fn clear_cart(
        &self,
        request: Request<pb::ClearCartRequest>,
    ) -> Result<Response<pb::ClearCartResponse>, Status> {
        let caller = caller(&request)?;
        let cleared = self.carts.clear(caller.user_id()).await?;
        Ok(Response::new(pb::ClearCartResponse {
            cart: Some(cart(&cleared)),
        }))
    }

    async fn merge_cart(
        &self,
        request: Request<pb::MergeCartRequest>,
    ) -> Result<Response<pb::MergeCartResponse>, Status> {
        let caller = caller(&request)?;
        let lines: Vec<(String, i64)> = request
            .into_inner()
            .lines
            .into_iter()
            .map(|l| (l.product_id, l.quantity))
            .collect();
        let guest = CartItem::parse_guest_cart(&lines)
            .map_err(|violations| grpc_status::invalid_argument(&violations))?;
        let merged = self.carts.merge(caller.user_id(), guest).await?;
        Ok(Response::new(pb::MergeCartResponse {
            cart: Some(cart(&merged)),
        }))
    }

    async fn get_shipping_options(
        &self,
        request: Request<pb::GetShippingOptionsRequest>,
    ) -> Result<Response<pb::GetShippingOptionsResponse>, Status> {
        let caller = caller(&request)?;
        let (subtotal, options) = self
            .carts
            .shipping_options(caller.user_id(), &request.get_ref().country)
            .await?;
        Ok(Response::new(pb::GetShippingOptionsResponse {
            subtotal: Some(PbMoney::from(&subtotal)),
            options: options
                .iter()
                .map(|o| pb::ShippingOption {
                    method: method(o.method).into(),
                    price: Some(PbMoney::from(&o.price)),
                    min_days: o.days.0,
                    max_days: o.days.1,
                })
                .collect(),
        }))
    }

    async fn ship_order(
        &self,
        request: Request<pb::ShipOrderRequest>,
    ) -> Result<Response<pb::ShipOrderResponse>, Status> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let shipped = self
            .orders
            .ship_order(&caller, &r.order_id, &r.carrier, &r.tracking_number)
            .await?;
        Ok(Response::new(pb::ShipOrderResponse {
            order: Some(view(&shipped)),
        }))
    }

    async fn deliver_order(
        &self,
        request: Request<pb::DeliverOrderRequest>,
    ) -> Result<Response<pb::DeliverOrderResponse>, Status> {
        let caller = caller(&request)?;
        let delivered = self
            .orders
            .deliver_order(&caller, &request.get_ref().order_id)
            .await?;
        Ok(Response::new(pb::DeliverOrderResponse {
            order: Some(view(&delivered)),
        }))
    }
}
