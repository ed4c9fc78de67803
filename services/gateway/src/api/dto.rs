//! The JSON shapes of the public API (snake_case), with their OpenAPI schemas. These are the
//! gateway's contract with clients; they change only compatibly (added optional fields).

use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An amount of money: integer minor units (cents) and an ISO 4217 currency code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    #[serde(deserialize_with = "whole_number")]
    #[schema(example = 1999)]
    pub amount_minor: i64,
    #[schema(example = "EUR")]
    pub currency: String,
}

/// A price as a client sets it: 0.01 to 100000.00 in the shop's currency.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    #[serde(deserialize_with = "whole_number")]
    #[schema(example = 1999, minimum = 1, maximum = 10_000_000)]
    pub amount_minor: i64,
    #[schema(example = "EUR", pattern = "^EUR$")]
    pub currency: String,
}

/// An integer as JSON Schema counts them: `105` and `105.0` alike (a number with no
/// fractional part), within `i64`.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    if let Some(n) = number.as_i64() {
        return Ok(n);
    }
    number
        .as_f64()
        .filter(|n| n.fract() == 0.0 && *n >= -(2f64.powi(63)) && *n < 2f64.powi(63))
        // The range check above makes the cast exact.
        .map(|n| n as i64)
        .ok_or_else(|| serde::de::Error::custom(format!("{number} is not a whole number")))
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

/// A product as the API serves it, encoded once, when it enters the gateway's cache: a cached
/// read answers with these bytes (a reference count, no copy) instead of encoding it again.
#[derive(Debug, Clone)]
pub struct EncodedProduct(Bytes);

impl EncodedProduct {
    pub fn of(product: &Product) -> serde_json::Result<Self> {
        serde_json::to_vec(product).map(|json| Self(Bytes::from(json)))
    }
}

impl IntoResponse for EncodedProduct {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
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
    /// Stored lower-cased; surrounding spaces are dropped.
    #[schema(
        example = "ann@example.com",
        max_length = 254,
        pattern = "^[^@\\s\\u0000-\\u001F\\u007F-\\u009F]{1,64}@(?:[^@.\\s\\u0000-\\u001F\\u007F-\\u009F]+\\.)+[^@.\\s\\u0000-\\u001F\\u007F-\\u009F]+$"
    )]
    pub email: String,
    /// 12 to 128 characters, no control characters. No rules on kinds of characters: length
    /// is what makes a password strong (NIST SP 800-63B).
    #[schema(
        min_length = 12,
        max_length = 128,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub password: String,
    /// Up to 100 characters, not blank; surrounding spaces are dropped.
    #[schema(
        example = "Ann Example",
        max_length = 100,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
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
    #[schema(
        example = "ann@example.com",
        max_length = 254,
        pattern = "^[^@\\s\\u0000-\\u001F\\u007F-\\u009F]{1,64}@(?:[^@.\\s\\u0000-\\u001F\\u007F-\\u009F]+\\.)+[^@.\\s\\u0000-\\u001F\\u007F-\\u009F]+$"
    )]
    pub email: String,
    #[schema(min_length = 1, max_length = 128)]
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
    #[schema(min_length = 1, max_length = 512)]
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
    /// Up to 200 characters, not blank.
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub description: String,
    pub price: Price,
    /// Empty, or a path on this site such as `/static/products/mug.svg` (the storefront's CSP
    /// loads images from the shop's own origin only).
    #[serde(default)]
    #[schema(
        max_length = 2048,
        pattern = "^(?:/(?:[A-Za-z0-9._~%-][A-Za-z0-9._~%/-]*)?)?$"
    )]
    pub image_url: String,
}

/// Only the fields present change.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    #[schema(
        max_length = 200,
        pattern = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$"
    )]
    pub name: Option<String>,
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    #[schema(nullable)]
    pub price: Option<Price>,
    #[schema(
        max_length = 2048,
        pattern = "^(?:/(?:[A-Za-z0-9._~%-][A-Za-z0-9._~%/-]*)?)?$"
    )]
    pub image_url: Option<String>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRequest {
    /// Units received (positive) or written off (negative): 1 to 1000000 either way.
    #[serde(deserialize_with = "whole_number")]
    #[schema(schema_with = stock_delta)]
    pub delta: i64,
}

/// -1000000 to -1 or 1 to 1000000: a change of nothing is not an adjustment.
fn stock_delta() -> utoipa::openapi::Schema {
    let range = |low: f64, high: f64| {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Int64,
            )))
            .minimum(Some(low))
            .maximum(Some(high))
    };
    utoipa::openapi::schema::OneOfBuilder::new()
        .item(range(-1_000_000.0, -1.0))
        .item(range(1.0, 1_000_000.0))
        .description(Some(
            "Units received (positive) or written off (negative): 1 to 1000000 either way.",
        ))
        .build()
        .into()
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItemRequest {
    #[schema(format = Uuid)]
    pub product_id: String,
    /// 1 to 10000.
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 10_000)]
    pub quantity: i64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderRequest {
    /// 1 to 50 lines, each naming a different product. Leave it out to check out your cart.
    #[schema(min_items = 1, max_items = 50)]
    pub items: Option<Vec<OrderItemRequest>>,
    /// A test card token such as `tok_visa`; never a card number.
    #[schema(example = "tok_visa", pattern = "^[A-Za-z0-9_]{1,64}$")]
    pub card_token: String,
    pub shipping_address: ShippingAddress,
    pub shipping_method: ShippingMethod,
    /// The total you were shown (subtotal plus shipping, as `GET /api/v1/shipping/options`
    /// quotes it); another total is a 409 `price-changed` and nothing is charged.
    pub expected_total: Option<Money>,
}

/// Where an order is delivered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    #[schema(example = "Ann Reader", min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(example = "1 Crab Lane", min_length = 1, max_length = 100)]
    pub line1: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub line2: String,
    #[schema(example = "Dublin", min_length = 1, max_length = 100)]
    pub city: String,
    #[schema(example = "D02 X285", min_length = 1, max_length = 16)]
    pub postal_code: String,
    #[schema(schema_with = country_code)]
    pub country: String,
}

/// The schema of an ISO 3166-1 alpha-2 code, for parameters (`value_type = CountryCode`).
#[derive(Debug)]
pub struct CountryCode;

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        country_code().into()
    }
}

impl ToSchema for CountryCode {}

/// An ISO 3166-1 alpha-2 code: the document lists every assigned one, as the shop checks.
pub fn country_code() -> utoipa::openapi::Schema {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(shop_kernel::country::ISO_3166_ALPHA2))
        .description(Some(
            "ISO 3166-1 alpha-2 country code, in capitals, e.g. IE",
        ))
        .build()
        .into()
}

/// How an order travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShippingMethod {
    Standard,
    Express,
}

/// One way to ship, priced for the cart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShippingOption {
    pub method: ShippingMethod,
    pub price: Money,
    /// Working days on the way, at least.
    pub min_days: u32,
    /// Working days on the way, at most.
    pub max_days: u32,
}

/// The shipping methods to a country, quoted for the signed-in customer's cart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShippingQuote {
    pub country: String,
    /// The cart's subtotal the quote is for.
    pub subtotal: Money,
    pub options: Vec<ShippingOption>,
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
    /// The account that placed it.
    #[schema(format = Uuid)]
    pub customer_id: String,
    /// `PENDING`, `RESERVED`, `CONFIRMED`, `REJECTED`, `CANCELLED`, `SHIPPED` or `DELIVERED`.
    pub status: String,
    /// Why it was rejected or cancelled; empty otherwise.
    pub reason: String,
    pub items: Vec<OrderItem>,
    /// The lines' sum: as quoted at checkout until the stock is reserved, then at the reserved
    /// prices (a different sum rejects the order as `price_changed`, uncharged). Absent for
    /// orders placed before checkout quoted one.
    pub subtotal: Option<Money>,
    /// What shipping costs; absent for orders placed before checkout took an address.
    pub shipping: Option<Money>,
    /// Subtotal plus shipping: what is charged. Absent until the order is priced.
    pub total: Option<Money>,
    pub shipping_address: Option<ShippingAddress>,
    pub shipping_method: Option<ShippingMethod>,
    /// Who carries it, once shipped.
    pub carrier: Option<String>,
    /// The carrier's tracking number, once shipped.
    pub tracking_number: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Oldest first; empty in lists.
    pub timeline: Vec<TimelineEntry>,
}

/// A confirmed order handed to a carrier.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipRequest {
    /// Up to 50 characters, not blank.
    #[schema(
        example = "An Post",
        max_length = 50,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub carrier: String,
    /// Up to 64 characters, not blank.
    #[schema(
        example = "RX123456789IE",
        max_length = 64,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u001F\\u007F-\\u009F][^\\u0000-\\u001F\\u007F-\\u009F]*$"
    )]
    pub tracking_number: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Recorded in the timeline; up to 200 characters.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reason: String,
}

/// How many units of a product the cart should hold.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CartItemRequest {
    /// 0 to 99; 0 removes the line.
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 0, maximum = 99)]
    pub quantity: i64,
}

/// One line of a guest's cart (kept in the browser before signing in).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuestCartItem {
    #[schema(format = Uuid)]
    pub product_id: String,
    /// 1 to 99.
    #[serde(deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: i64,
}

/// A guest's cart, to be added to the signed-in customer's.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeCartRequest {
    /// At most 50 lines, each naming a different product.
    #[schema(max_items = 50)]
    pub items: Vec<GuestCartItem>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CartLine {
    pub product_id: String,
    /// Empty when the product is gone from the catalog.
    pub name: String,
    pub quantity: i64,
    /// The catalog's price now.
    pub unit_price: Money,
    pub line_total: Money,
    /// Units in stock now; the cart does not hold stock.
    pub available: i64,
    /// False when the product is no longer sold: not in the subtotal, cannot be checked out.
    pub active: bool,
    /// The price moved since this line was added or its quantity last set.
    pub price_changed: bool,
    /// The unit price when the line was added or its quantity last set.
    pub seen_price: Money,
}

/// The signed-in customer's cart, at today's prices.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Cart {
    /// In the order the products were first added.
    pub items: Vec<CartLine>,
    /// The sum of the active lines; absent for an empty cart.
    pub subtotal: Option<Money>,
    /// Total units across the lines.
    pub item_count: i64,
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

/// The runtime flags as the flag file sets them now (docs/flags.md), read-only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlagList {
    /// Whether the gateway was given the flag file; without it the list is empty and every
    /// service that has no file uses each flag's default.
    pub from_file: bool,
    pub flags: Vec<Flag>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Flag {
    #[schema(example = "payment-failure-rate")]
    pub key: String,
    /// `false`: DISABLED in the file, so every service uses the flag's default.
    pub enabled: bool,
    /// The variant in force (the file's `defaultVariant`) and its value.
    #[schema(example = "off")]
    pub variant: String,
    #[schema(schema_with = flag_value)]
    pub value: serde_json::Value,
    /// Every variant the file defines.
    pub variants: Vec<FlagVariant>,
    /// What the flag does, from the file's `metadata.description`.
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FlagVariant {
    pub name: String,
    #[schema(schema_with = flag_value)]
    pub value: serde_json::Value,
}

/// A flag's value: a number, a boolean or a string, as the flag's type is.
fn flag_value() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([
            Type::Number,
            Type::Boolean,
            Type::String,
        ]))
        .description(Some(
            "A number, a boolean or a string, as the flag's type is",
        ))
        .build()
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
