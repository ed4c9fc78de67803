//! The catalog: public reads (cached in-process for a few seconds) and admin writes.
#![allow(unused_qualifications)] // utoipa's macros expand to fully qualified paths.

use axum::Json;
use axum::RequestPartsExt as _;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::Deserialize;
use shop_auth::http::AdminUser;
use shop_platform::problem::FieldError;
use shop_proto::inventory::v1 as pb;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::convert;
use super::dto::{
    CreateProductRequest, EncodedProduct, Page, ProblemDoc, Product, StockRequest,
    UpdateProductRequest,
};
use super::extract::{ApiJson, ApiQuery, OptionalRequestId, page_request};
use super::problem::ApiError;
use super::state::AppState;

/// The longest catalog search, in characters.
const MAX_QUERY_CHARS: usize = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListProducts {
    /// Case-insensitive text to find in names and descriptions.
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// 1 to 100; 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<u32>,
    /// `next_page_token` of the previous page (repeat `q` and `sort` with it).
    pub page_token: Option<String>,
    /// `name` (the default), `price_asc` (cheapest first) or `price_desc` (dearest first);
    /// ties by name.
    #[param(value_type = Option<ProductSort>, inline)]
    pub sort: Option<String>,
    /// Admins only (401/403 otherwise): list products taken off sale too.
    pub include_inactive: Option<bool>,
}

/// The orders a catalog listing can be in (the document's enumeration; the handler reads the
/// name and answers 422 for any other).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // Only its schema is used.
pub enum ProductSort {
    Name,
    PriceAsc,
    PriceDesc,
}

/// The backend's order for a `sort` parameter, or `None` for a name it does not know.
fn product_order(sort: Option<&str>) -> Option<pb::ProductOrder> {
    match sort {
        None | Some("name") => Some(pb::ProductOrder::Name),
        Some("price_asc") => Some(pb::ProductOrder::PriceAscending),
        Some("price_desc") => Some(pb::ProductOrder::PriceDescending),
        Some(_) => None,
    }
}

/// Browse the catalog, by name or by price.
#[utoipa::path(operation_id = "list_products", get, path = "/api/v1/products", tag = "products", params(ListProducts),
    responses((status = 200, body = Page<Product>, description = "OK"), (status = 400, body = ProblemDoc, description = "Malformed request (problem+json)"),
              (status = 401, body = ProblemDoc, description = "include_inactive without a valid token (problem+json)"),
              (status = 403, body = ProblemDoc, description = "include_inactive by a customer (problem+json)"),
              (status = 422, body = ProblemDoc, description = "Invalid values (problem+json)")))]
pub async fn list(
    State(state): State<AppState>,
    mut parts: Parts,
    ApiQuery(query): ApiQuery<ListProducts>,
) -> Result<Json<Page<Product>>, ApiError> {
    // Only a listing with off-sale products needs to know who asks; the public one stays anonymous.
    let admin = if query.include_inactive == Some(true) {
        let AdminUser(caller) = parts
            .extract_with_state::<AdminUser, _>(&state)
            .await
            .map_err(ApiError::Auth)?;
        Some(caller)
    } else {
        None
    };
    let mut errors = Vec::new();
    let page = page_request(query.page_size, query.page_token, &mut errors);
    // Counted before the inventory trims it: the bound is the document's, on what is sent.
    let text = query.q.unwrap_or_default();
    if text.chars().count() > MAX_QUERY_CHARS {
        errors.push(FieldError {
            field: "q".to_owned(),
            message: format!("must be at most {MAX_QUERY_CHARS} characters"),
        });
    }
    let order = product_order(query.sort.as_deref()).unwrap_or_else(|| {
        errors.push(FieldError {
            field: "sort".to_owned(),
            message: "must be name, price_asc or price_desc".to_owned(),
        });
        pb::ProductOrder::Name
    });
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let message = pb::ListProductsRequest {
        page: Some(page),
        query: text,
        include_inactive: admin.is_some(),
        order: order.into(),
    };
    let response = state
        .backends
        .list_products(admin.as_ref().map(|c| c.token()), message)
        .await?;
    let next = response
        .page
        .map(|p| p.next_page_token)
        .filter(|t| !t.is_empty());
    Ok(Json(Page {
        items: response.products.iter().map(convert::product).collect(),
        next_page_token: next,
    }))
}

/// One product.
#[utoipa::path(operation_id = "get_product", get, path = "/api/v1/products/{id}", tag = "products",
    params(("id" = String, Path, format = Uuid, description = "Product id")),
    responses((status = 200, body = Product, description = "OK"), (status = 404, body = ProblemDoc, description = "Not found (problem+json)")))]
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<EncodedProduct, ApiError> {
    if let Some(product) = state.catalog.get(&id).await {
        return Ok(product);
    }
    let product = fetch(&state, &id).await?;
    let encoded =
        EncodedProduct::of(&product).map_err(|_| ApiError::BadUpstreamAnswer("product"))?;
    state.catalog.put(product.id, encoded.clone()).await;
    Ok(encoded)
}

async fn fetch(state: &AppState, id: &str) -> Result<Product, ApiError> {
    let response = state.backends.get_product(id.to_owned()).await?;
    response
        .product
        .as_ref()
        .map(convert::product)
        .ok_or(ApiError::BadUpstreamAnswer("product"))
}

/// Add a product to the catalog (admin). An `Idempotency-Key` (UUID) makes retries safe.
#[utoipa::path(operation_id = "create_product", post, path = "/api/v1/products", tag = "products", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, format = Uuid, description = "UUID; a retry with the same key returns the first result")),
    request_body = CreateProductRequest,
    responses((status = 201, body = Product, description = "Created"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"), (status = 403, body = ProblemDoc, description = "Not allowed (problem+json)"), (status = 422, body = ProblemDoc, description = "Invalid values (problem+json)")))]
pub async fn create(
    State(state): State<AppState>,
    AdminUser(caller): AdminUser,
    OptionalRequestId(request_id): OptionalRequestId,
    ApiJson(body): ApiJson<CreateProductRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let request_id = request_id.unwrap_or_else(Uuid::now_v7).to_string();
    let message = pb::CreateProductRequest {
        request_id,
        price: Some(convert::pb_price(&body.price)),
        name: body.name,
        description: body.description,
        image_url: body.image_url,
        initial_stock: 0,
    };
    let response = state
        .backends
        .create_product(caller.token(), message)
        .await?;
    let product = response
        .product
        .as_ref()
        .map(convert::product)
        .ok_or(ApiError::BadUpstreamAnswer("product"))?;
    Ok((StatusCode::CREATED, Json(product)))
}

/// Change some fields of a product (admin).
#[utoipa::path(operation_id = "update_product", patch, path = "/api/v1/products/{id}", tag = "products", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Product id")), request_body = UpdateProductRequest,
    responses((status = 200, body = Product, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"), (status = 403, body = ProblemDoc, description = "Not allowed (problem+json)"),
              (status = 404, body = ProblemDoc, description = "Not found (problem+json)"), (status = 422, body = ProblemDoc, description = "Invalid values (problem+json)")))]
pub async fn update(
    State(state): State<AppState>,
    AdminUser(caller): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateProductRequest>,
) -> Result<Json<Product>, ApiError> {
    let response = state
        .backends
        .update_product(
            caller.token(),
            pb::UpdateProductRequest {
                product_id: id.clone(),
                price: body.price.as_ref().map(convert::pb_price),
                name: body.name,
                description: body.description,
                image_url: body.image_url,
                active: body.active,
            },
        )
        .await?;
    state.catalog.forget(&id).await;
    response
        .product
        .as_ref()
        .map(convert::product)
        .map(Json)
        .ok_or(ApiError::BadUpstreamAnswer("product"))
}

/// Receive or write off stock (admin). An `Idempotency-Key` (UUID) makes retries safe.
#[utoipa::path(operation_id = "adjust_stock", post, path = "/api/v1/products/{id}/stock", tag = "products", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Product id"),
           ("Idempotency-Key" = Option<String>, Header, nullable = false, format = Uuid, description = "UUID; a retry with the same key adjusts once")),
    request_body = StockRequest,
    responses((status = 200, body = Product, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"), (status = 403, body = ProblemDoc, description = "Not allowed (problem+json)"),
              (status = 404, body = ProblemDoc, description = "Not found (problem+json)"), (status = 409, body = ProblemDoc, description = "Conflict (problem+json)"), (status = 422, body = ProblemDoc, description = "Invalid values (problem+json)")))]
pub async fn adjust_stock(
    State(state): State<AppState>,
    AdminUser(caller): AdminUser,
    Path(id): Path<String>,
    OptionalRequestId(request_id): OptionalRequestId,
    ApiJson(body): ApiJson<StockRequest>,
) -> Result<Json<Product>, ApiError> {
    let request_id = request_id.unwrap_or_else(Uuid::now_v7).to_string();
    let message = pb::AdjustStockRequest {
        request_id,
        product_id: id.clone(),
        delta: body.delta,
    };
    let response = state.backends.adjust_stock(caller.token(), message).await?;
    state.catalog.forget(&id).await;
    response
        .product
        .as_ref()
        .map(convert::product)
        .map(Json)
        .ok_or(ApiError::BadUpstreamAnswer("product"))
}
