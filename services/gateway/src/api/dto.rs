//! The JSON shapes of the public API (snake_case), with their OpenAPI schemas. These are the
//! gateway's contract with clients; they change only compatibly (added optional fields).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount of money: integer minor units (cents) and an ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[schema(example = 1999)]
    pub amount_minor: i64,
    #[schema(example = "EUR")]
    pub currency: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub image_url: String,
    /// Units that can be ordered now.
    pub available: i64,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    /// `customer`, and `admin` for shop staff.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ann@example.com")]
    pub email: String,
    /// At least 12 characters, mixing at least two kinds (lower, upper, digits, symbols).
    pub password: String,
    #[schema(example = "Ann Example")]
    pub name: String,
}

/// Sign-up's answer, the same whether or not the email already had an account, so that
/// sign-up cannot be used to find out who has one.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignUpAccepted {
    /// Always `accepted`.
    #[schema(example = "accepted")]
    pub status: &'static str,
    /// What to do next: sign in with the email and password.
    pub message: &'static str,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// For browsers: the refresh token is set as an `HttpOnly` cookie (`shop_refresh`, path
    /// `/api/v1/auth`, `SameSite=Strict`) instead of being returned, so no page script ever
    /// holds it. Renew with `POST /api/v1/auth/refresh`, body `{}`, header `X-Shop-CSRF: 1`.
    #[serde(default)]
    pub cookie: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// Absent: the `shop_refresh` cookie is used instead (and the `X-Shop-CSRF: 1` header is
    /// required).
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tokens {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Absent when the refresh token went into the `shop_refresh` cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub price: Money,
    #[serde(default)]
    pub image_url: String,
}

/// Only the fields present change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    pub name: Option<String>,
    pub description: Option<String>,
    pub price: Option<Money>,
    pub image_url: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRequest {
    /// Units received (positive) or written off (negative).
    pub delta: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItemRequest {
    pub product_id: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    pub items: Vec<OrderItemRequest>,
    /// A test card token such as `tok_visa`; never a card number.
    #[schema(example = "tok_visa")]
    pub card_token: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderItem {
    pub product_id: String,
    /// Empty until the order is priced.
    pub name: String,
    pub quantity: i64,
    /// Absent until the order is priced.
    pub unit_price: Option<Money>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// RFC 3339.
    pub at: String,
    pub event: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Order {
    pub id: String,
    /// `PENDING`, `RESERVED`, `CONFIRMED`, `REJECTED` or `CANCELLED`.
    pub status: String,
    /// Why it was rejected or cancelled; empty otherwise.
    pub reason: String,
    pub items: Vec<OrderItem>,
    /// Absent until the order is priced.
    pub total: Option<Money>,
    /// RFC 3339.
    pub created_at: String,
    /// Oldest first; empty in lists.
    pub timeline: Vec<TimelineEntry>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Recorded in the timeline.
    #[serde(default)]
    pub reason: String,
}

/// A page of a list and where the next one starts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
}

/// The signed-in home page in one call; parts that failed are `null` and named in `degraded`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Dashboard {
    pub user: Option<User>,
    pub recent_orders: Option<Vec<Order>>,
    pub products: Option<Vec<Product>>,
    /// Names of the parts that could not be fetched: `user`, `recent_orders`, `products`.
    pub degraded: Vec<String>,
}

/// The public keys that verify access tokens (RFC 7517).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Jwks {
    pub keys: Vec<serde_json::Value>,
}

/// An RFC 9457 problem: every error response has this shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemDoc {
    /// A stable URI per kind of problem, `https://ferris-shop.dev/problems/<slug>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: Option<String>,
    /// Field errors, for 422.
    pub errors: Option<Vec<FieldErrorDoc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldErrorDoc {
    pub field: String,
    pub message: String,
}
