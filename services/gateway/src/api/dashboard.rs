//! The BFF endpoint of the storefront's home page: the account, recent orders and products in
//! one round trip, fetched concurrently. A part that fails is left out and named, so the page
//! still renders what it can.

use axum::Json;
use axum::extract::State;
use shop_auth::http::AuthUser;
use shop_proto::common::v1::PageRequest;
use shop_proto::inventory::v1 as pb;

use super::convert;
use super::dto::{Dashboard, ProblemDoc};
use super::state::AppState;
use crate::adapters::upstream::{Call, request};

const RECENT_ORDERS: u32 = 5;
const FEATURED_PRODUCTS: i32 = 8;

/// Everything the home page shows, degraded part by part.
#[utoipa::path(operation_id = "get_dashboard", get, path = "/api/v1/dashboard", tag = "dashboard", security(("bearer" = [])),
    responses((status = 200, body = Dashboard, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)")))]
pub async fn dashboard(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Json<Dashboard> {
    let deadline = state.deadlines.read;
    let products = async {
        state
            .upstreams
            .inventory
            .call(Call::Read, deadline, |mut client| {
                let message = pb::ListProductsRequest {
                    page: Some(PageRequest {
                        page_size: FEATURED_PRODUCTS,
                        page_token: String::new(),
                    }),
                    query: String::new(),
                    include_inactive: false,
                };
                async move { client.list_products(request(message, deadline, None)).await }
            })
            .await
            .map(|r| r.products.iter().map(convert::product).collect::<Vec<_>>())
    };
    let (user, orders, products) = tokio::join!(
        super::auth::fetch_user(&state, &caller),
        super::orders::fetch_list(&state, &caller, RECENT_ORDERS, String::new()),
        products,
    );
    let mut degraded = Vec::new();
    let user = user.map_err(|_| degraded.push("user".to_owned())).ok();
    let recent_orders = orders
        .map(|page| page.items)
        .map_err(|_| degraded.push("recent_orders".to_owned()))
        .ok();
    let products = products
        .map_err(|_| degraded.push("products".to_owned()))
        .ok();
    if !degraded.is_empty() {
        metrics::counter!("gateway_dashboard_degraded_total").increment(1);
    }
    Json(Dashboard {
        user,
        recent_orders,
        products,
        degraded,
    })
}
