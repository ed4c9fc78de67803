//! Orders: place (with an Idempotency-Key), list, read, cancel. All for the signed-in customer
//! (admins see everyone's, as the order service decides).
#![allow(unused_qualifications)] // utoipa's macros expand to fully qualified paths.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use shop_auth::http::{AdminUser, AuthUser};
use shop_platform::problem::FieldError;
use shop_proto::convert::timestamp;
use shop_proto::order::v1 as pb;
use utoipa::{IntoParams, ToSchema};

use super::convert;
use super::dto::{CancelRequest, Order, Page, PlaceOrderRequest, ProblemDoc, ShipRequest};
use super::extract::{ApiJson, ApiQuery, IdempotencyKey, check_text, page_request};
use super::problem::ApiError;
use super::state::AppState;

/// Place an order and run checkout: the listed `items`, or without them the cart. The charge
/// is the subtotal plus shipping to `shipping_address` by `shipping_method`. 201 when it
/// finished (CONFIRMED or REJECTED) within the request, else 202 with the order as it stands
/// and a `Location` to poll. A cart line whose price moved, or an `expected_total` that is not
/// the total, is 409 `price-changed`; a product no longer sold in the cart is 409
/// `cart-not-orderable`; the cart is emptied of what was bought once the order is CONFIRMED.
#[utoipa::path(operation_id = "place_order", post, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255, pattern = "^[!-~](?:[ -~]*[!-~])?$", description = "Required: 1 to 255 printable ASCII characters. The same key and body return the same order")),
    request_body = PlaceOrderRequest,
    responses((status = 201, body = Order, description = "Created"), (status = 202, body = Order, description = "still in progress"),
              (status = 400, body = ProblemDoc, description = "Malformed request (problem+json)"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"),
              (status = 409, body = ProblemDoc, description = "the same key is still in flight, a price changed, or the cart holds a product no longer sold"),
              (status = 422, body = ProblemDoc, description = "invalid values, or the key was used for another body")))]
pub async fn place(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<PlaceOrderRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if body.items.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::Invalid(vec![FieldError {
            field: "items".to_owned(),
            message: "must not be empty: list 1 to 50 products, or leave it out to check out \
                      the cart"
                .to_owned(),
        }]));
    }
    let message = pb::PlaceOrderRequest {
        idempotency_key: key,
        lines: body
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| pb::PlaceOrderLine {
                product_id: item.product_id,
                quantity: item.quantity,
            })
            .collect(),
        card_token: body.card_token,
        shipping_address: Some(convert::pb_address(&body.shipping_address)),
        shipping_method: convert::pb_shipping_method(body.shipping_method).into(),
        expected_total: body
            .expected_total
            .as_ref()
            .map(|m| shop_proto::common::v1::Money {
                amount_minor: m.amount_minor,
                currency: m.currency.clone(),
            }),
    };
    let response = state.backends.place_order(caller.token(), message).await?;
    let placed = response.order.ok_or(ApiError::BadUpstreamAnswer("order"))?;
    let finished = matches!(
        placed.status(),
        pb::OrderStatus::Confirmed | pb::OrderStatus::Rejected | pb::OrderStatus::Cancelled
    );
    let order = convert::order(&placed);
    // Stock moved: cached copies of these products are stale.
    for item in &order.items {
        state.catalog.forget(&item.product_id).await;
    }
    let status = if finished {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    let location = format!("/api/v1/orders/{}", order.id);
    Ok((status, [(header::LOCATION, location)], Json(order)))
}

/// An order a backend answered with, as JSON; an answer without one is a bad upstream answer.
fn answer(order: Option<&pb::Order>) -> Result<Json<Order>, ApiError> {
    order
        .map(convert::order)
        .map(Json)
        .ok_or(ApiError::BadUpstreamAnswer("order"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListOrders {
    /// 1 to 100; 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    /// `next_page_token` of the previous page (repeat the filters with it).
    pub page_token: Option<String>,
    /// Only orders in this status.
    #[param(value_type = Option<StatusFilter>, inline)]
    pub status: Option<String>,
    /// Only this customer's orders. Admins only, or a customer naming themselves (403
    /// otherwise).
    #[param(value_type = Option<String>, format = Uuid)]
    pub customer_id: Option<String>,
    /// Only orders placed at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub placed_from: Option<String>,
    /// Only orders placed before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub placed_before: Option<String>,
}

/// The statuses an order list can be filtered by (the document's enumeration; the handler
/// reads the name and answers 422 for any other).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)] // Only its schema is used.
pub enum StatusFilter {
    Pending,
    Reserved,
    Confirmed,
    Rejected,
    Cancelled,
    Shipped,
    Delivered,
}

/// Orders, newest first: the signed-in customer's; for an admin, every customer's (or one
/// customer's with `customer_id`). Filter by status and by when they were placed; keyset
/// pages (`page_token`).
#[utoipa::path(operation_id = "list_orders", get, path = "/api/v1/orders", tag = "orders", security(("bearer" = [])), params(ListOrders),
    responses((status = 200, body = Page<Order>, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"),
              (status = 403, body = ProblemDoc, description = "another customer's orders (problem+json)"),
              (status = 422, body = ProblemDoc, description = "a filter that is not valid (problem+json)")))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(query): ApiQuery<ListOrders>,
) -> Result<Json<Page<Order>>, ApiError> {
    let message = list_request(query)?;
    let response = state.backends.list_orders(caller.token(), message).await?;
    Ok(Json(Page {
        items: response.orders.iter().map(convert::order).collect(),
        next_page_token: response
            .page
            .map(|p| p.next_page_token)
            .filter(|t| !t.is_empty()),
    }))
}

/// The backend request for a listing; filters that cannot be valid are 422 here, naming the
/// parameter.
fn list_request(query: ListOrders) -> Result<pb::ListOrdersRequest, ApiError> {
    let mut errors = Vec::new();
    let mut invalid = |field: &str, message: &str| {
        errors.push(FieldError {
            field: field.to_owned(),
            message: message.to_owned(),
        });
    };
    let status = match query.status.as_deref() {
        None => pb::OrderStatus::Unspecified,
        Some(name) => pb::OrderStatus::from_str_name(&format!("ORDER_STATUS_{name}"))
            .filter(|s| *s != pb::OrderStatus::Unspecified)
            .unwrap_or_else(|| {
                invalid(
                    "status",
                    "must be PENDING, RESERVED, CONFIRMED, REJECTED, CANCELLED, SHIPPED or DELIVERED",
                );
                pb::OrderStatus::Unspecified
            }),
    };
    if let Some(id) = &query.customer_id
        && uuid::Uuid::parse_str(id).is_err()
    {
        invalid("customer_id", "must be a UUID");
    }
    let customer_id = query.customer_id.unwrap_or_default();
    let mut instant = |field: &str, value: Option<String>| {
        let value = value?;
        match chrono::DateTime::parse_from_rfc3339(&value) {
            Ok(at) => Some(timestamp(at.with_timezone(&chrono::Utc))),
            Err(_) => {
                invalid(
                    field,
                    "must be an RFC 3339 instant, e.g. 2026-12-01T00:00:00Z",
                );
                None
            }
        }
    };
    let placed_from = instant("placed_from", query.placed_from);
    let placed_before = instant("placed_before", query.placed_before);
    let page = page_request(query.page_size, query.page_token, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    Ok(pb::ListOrdersRequest {
        page: Some(page),
        status: status.into(),
        customer_id,
        placed_from,
        placed_before,
    })
}

/// One order with its timeline. Someone else's order is 404.
#[utoipa::path(operation_id = "get_order", get, path = "/api/v1/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Order id")),
    responses((status = 200, body = Order, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"), (status = 404, body = ProblemDoc, description = "Not found (problem+json)")))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    let response = state.backends.get_order(caller.token(), id).await?;
    answer(response.order.as_ref())
}

/// Ship a confirmed order (admin): SHIPPED, with its carrier and tracking number in the order
/// and its timeline. Repeating it with the same tracking returns the order.
#[utoipa::path(operation_id = "ship_order", post, path = "/api/v1/orders/{id}/ship", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Order id")), request_body = ShipRequest,
    responses((status = 200, body = Order, description = "OK"), (status = 400, body = ProblemDoc, description = "Malformed request (problem+json)"),
              (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"), (status = 403, body = ProblemDoc, description = "Not allowed (problem+json)"),
              (status = 404, body = ProblemDoc, description = "Not found (problem+json)"), (status = 409, body = ProblemDoc, description = "the order is not confirmed (problem+json)"),
              (status = 422, body = ProblemDoc, description = "Invalid values (problem+json)")))]
pub async fn ship(
    State(state): State<AppState>,
    AdminUser(caller): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ShipRequest>,
) -> Result<Json<Order>, ApiError> {
    let message = pb::ShipOrderRequest {
        order_id: id,
        carrier: body.carrier,
        tracking_number: body.tracking_number,
    };
    let response = state.backends.ship_order(caller.token(), message).await?;
    answer(response.order.as_ref())
}

/// Record that a shipped order was delivered (admin). Repeating it returns the order.
#[utoipa::path(operation_id = "deliver_order", post, path = "/api/v1/orders/{id}/deliver", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Order id")),
    responses((status = 200, body = Order, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"),
              (status = 403, body = ProblemDoc, description = "Not allowed (problem+json)"), (status = 404, body = ProblemDoc, description = "Not found (problem+json)"),
              (status = 409, body = ProblemDoc, description = "the order is not shipped (problem+json)"),
              (status = 422, body = ProblemDoc, description = "Invalid values (problem+json)")))]
pub async fn deliver(
    State(state): State<AppState>,
    AdminUser(caller): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    let message = pb::DeliverOrderRequest { order_id: id };
    let response = state
        .backends
        .deliver_order(caller.token(), message)
        .await?;
    answer(response.order.as_ref())
}

/// Cancel a confirmed order: the stock goes back and the payment is refunded. Once shipped it
/// is 409 `order-already-shipped`.
#[utoipa::path(operation_id = "cancel_order", post, path = "/api/v1/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Order id")), request_body(content = Option<CancelRequest>),
    responses((status = 200, body = Order, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"), (status = 404, body = ProblemDoc, description = "Not found (problem+json)"),
              (status = 409, body = ProblemDoc, description = "the order is not confirmed, or already shipped (order-already-shipped)")))]
pub async fn cancel(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Order>, ApiError> {
    // The body is optional: an empty one, or `null`, means "no reason given".
    let reason = if body.is_empty() {
        String::new()
    } else {
        serde_json::from_slice::<Option<CancelRequest>>(&body)
            .map_err(|err| {
                ApiError::BadRequest(format!("the body is not a valid cancellation: {err}"))
            })?
            .map(|request| request.reason)
            .unwrap_or_default()
    };
    check_text("reason", &reason)?;
    let message = pb::CancelOrderRequest {
        order_id: id,
        reason,
    };
    let response = state.backends.cancel_order(caller.token(), message).await?;
    answer(response.order.as_ref())
}
