//! The BFF endpoint of the storefront's home page: the account, recent orders and products in
//! one round trip, fetched concurrently. A part that fails is left out and named, so the page
//! still renders what it can.

use axum::Json;
use axum::extract::State;
use shop_auth::http::AuthUser;
use shop_proto::common::v1::PageRequest;
use shop_proto::inventory::v1 as inventory;
use shop_proto::order::v1 as order;

use super::convert;
use super::dto::{Dashboard, ProblemDoc};
use super::state::AppState;

const RECENT_ORDERS: i32 = 5;
const FEATURED_PRODUCTS: i32 = 8;

fn first_page(page_size: i32) -> Option<PageRequest> {
    Some(PageRequest {
        page_size,
        page_token: String::new(),
    })
}

/// Everything the home page shows, degraded part by part.
#[utoipa::path(operation_id = "get_dashboard", get, path = "/api/v1/dashboard", tag = "dashboard", security(("bearer" = [])),
    responses((status = 200, body = Dashboard, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)")))]
pub async fn dashboard(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Json<Dashboard> {
    let backends = &state.backends;
    let (user, orders, products) = tokio::join!(
        backends.get_user(caller.token(), caller.user_id().to_string()),
        backends.list_orders(
            caller.token(),
            // The caller's own orders, an admin's too: this is their account's page.
            order::ListOrdersRequest {
                page: first_page(RECENT_ORDERS),
                customer_id: caller.user_id().to_string(),
                ..Default::default()
            },
        ),
        backends.list_products(
            None,
            inventory::ListProductsRequest {
                page: first_page(FEATURED_PRODUCTS),
                ..Default::default()
            },
        ),
    );
    let mut degraded = Vec::new();
    let mut part = |name: &str, present: bool| {
        if !present {
            degraded.push(name.to_owned());
        }
    };
    let user = user.ok().and_then(|r| r.user).map(|u| convert::user(&u));
    part("user", user.is_some());
    let recent_orders = orders
        .ok()
        .map(|r| r.orders.iter().map(convert::order).collect::<Vec<_>>());
    part("recent_orders", recent_orders.is_some());
    let products = products
        .ok()
        .map(|r| r.products.iter().map(convert::product).collect::<Vec<_>>());
    part("products", products.is_some());
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
