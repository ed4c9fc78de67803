//! The signed-in customer's cart, kept by the order service: read it, set a line, empty it,
//! and add a guest's browser cart to it on signing in.
#![allow(unused_qualifications)] // utoipa's macros expand to fully qualified paths.

use axum::Json;
use axum::extract::{Path, State};
use shop_auth::http::AuthUser;
use shop_proto::order::v1 as pb;

use super::convert;
use super::dto::{Cart, CartItemRequest, MergeCartRequest, ProblemDoc};
use super::extract::ApiJson;
use super::problem::ApiError;
use super::state::AppState;

fn cart(cart: Option<&pb::Cart>) -> Result<Json<Cart>, ApiError> {
    cart.map(convert::cart)
        .map(Json)
        .ok_or(ApiError::BadUpstreamAnswer("cart"))
}

/// The cart at today's prices: each line with its current price, line total and stock, and
/// `price_changed` when the price moved since the line was added or last set.
#[utoipa::path(operation_id = "get_cart", get, path = "/api/v1/cart", tag = "cart", security(("bearer" = [])),
    responses((status = 200, body = Cart, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)")))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Cart>, ApiError> {
    let response = state.backends.get_cart(caller.token()).await?;
    cart(response.cart.as_ref())
}

/// Set how many units of a product the cart holds (0 removes it). Setting a line clears its
/// `price_changed`. A product that is unknown or no longer sold, or a 51st product, is 422.
#[utoipa::path(operation_id = "set_cart_item", put, path = "/api/v1/cart/items/{product_id}", tag = "cart", security(("bearer" = [])),
    params(("product_id" = String, Path, format = Uuid, description = "Product id")),
    request_body = CartItemRequest,
    responses((status = 200, body = Cart, description = "The cart after the change"), (status = 400, body = ProblemDoc, description = "Malformed request (problem+json)"),
              (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"),
              (status = 422, body = ProblemDoc, description = "an unknown or inactive product, a full cart, or a quantity out of range (problem+json)")))]
pub async fn set_item(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path(product_id): Path<String>,
    ApiJson(body): ApiJson<CartItemRequest>,
) -> Result<Json<Cart>, ApiError> {
    let message = pb::SetCartItemRequest {
        product_id,
        quantity: body.quantity,
    };
    let response = state
        .backends
        .set_cart_item(caller.token(), message)
        .await?;
    cart(response.cart.as_ref())
}

/// Empty the cart.
#[utoipa::path(operation_id = "clear_cart", delete, path = "/api/v1/cart", tag = "cart", security(("bearer" = [])),
    responses((status = 200, body = Cart, description = "The empty cart"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)")))]
pub async fn clear(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<Cart>, ApiError> {
    let response = state.backends.clear_cart(caller.token()).await?;
    cart(response.cart.as_ref())
}

/// Add a guest's cart (kept in the browser before signing in) to the customer's: units of a
/// product already in the cart are added up (to 99), products no longer sold are left out.
#[utoipa::path(operation_id = "merge_cart", post, path = "/api/v1/cart/merge", tag = "cart", security(("bearer" = [])),
    request_body = MergeCartRequest,
    responses((status = 200, body = Cart, description = "The cart after the merge"), (status = 400, body = ProblemDoc, description = "Malformed request (problem+json)"),
              (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"),
              (status = 422, body = ProblemDoc, description = "invalid lines (problem+json)")))]
pub async fn merge(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<MergeCartRequest>,
) -> Result<Json<Cart>, ApiError> {
    let message = pb::MergeCartRequest {
        lines: body
            .items
            .into_iter()
            .map(|item| pb::PlaceOrderLine {
                product_id: item.product_id,
                quantity: item.quantity,
            })
            .collect(),
    };
    let response = state.backends.merge_cart(caller.token(), message).await?;
    cart(response.cart.as_ref())
}
