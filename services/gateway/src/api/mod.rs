//! The public HTTP API (`/api/v1`), the storefront and the docs. [`router`] assembles routes,
//! their OpenAPI description (from the same code, so they cannot drift apart) and the
//! middleware every request goes through.

pub mod auth;
pub mod cart;
mod convert;
pub mod dashboard;
pub mod dto;
pub mod extract;
pub mod flags;
pub mod middleware;
mod objects_only;
mod openapi_rules;
pub mod orders;
pub mod problem;
pub mod products;
pub mod security;
pub mod shipping;
pub mod site;
pub mod state;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use axum::routing::get;
use tower::ServiceBuilder;
use tower::util::MapResponseLayer;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::timeout::TimeoutLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::problem::ApiError;
use self::state::AppState;
use crate::config::Settings;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Ferris Shop API",
        version = "1.0.0",
        description = "The public API of Ferris Shop. Errors are RFC 9457 problem+json; \
                       authenticate with `Authorization: Bearer <access_token>` from /api/v1/auth/login."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "products", description = "The catalog"),
        (name = "cart", description = "The signed-in customer's cart"),
        (name = "orders", description = "Checkout and order history"),
        (name = "dashboard", description = "The storefront's home page in one call"),
        (name = "admin", description = "The back office's read-only views"),
        (name = "site", description = "Storefront, docs and this document"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The routes and the OpenAPI document that describes them.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::jwks))
        .routes(routes!(products::list, products::create))
        .routes(routes!(products::get, products::update))
        .routes(routes!(products::adjust_stock))
        .routes(routes!(orders::place, orders::list))
        .routes(routes!(orders::get))
        .routes(routes!(orders::cancel))
        .routes(routes!(orders::ship))
        .routes(routes!(orders::deliver))
        .routes(routes!(cart::get, cart::clear))
        .routes(routes!(cart::set_item))
        .routes(routes!(cart::merge))
        .routes(routes!(shipping::options))
        .routes(routes!(dashboard::dashboard))
        .routes(routes!(flags::list))
        .routes(routes!(site::storefront))
        .routes(routes!(site::docs))
        .routes(routes!(site::static_file))
        .split_for_parts();
    (router, without_wildcard_syntax(document))
}

/// axum writes a catch-all segment as `{*path}`; OpenAPI's path templates know only `{path}`.
fn without_wildcard_syntax(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let paths = std::mem::take(&mut document.paths.paths);
    document.paths.paths = paths
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    document
}

/// The request timeout's bare 408 as a problem like every other error. The body may not have
/// been read to its end, so the connection closes.
fn timeout_problem(response: Response) -> Response {
    if response.status() != StatusCode::REQUEST_TIMEOUT {
        return response;
    }
    let problem = shop_platform::problem::Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "timeout",
        "Request took too long",
    )
    .with_detail("the request did not arrive in time; send it again");
    ([(header::CONNECTION, "close")], problem).into_response()
}

/// The OpenAPI document alone (`shop-gateway openapi`).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, document) = routes();
    described(document)
}

/// The routes' document completed: `/openapi.json` itself, then the project's rules on values.
fn described(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let (_, openapi_route) = OpenApiRouter::<site::OpenApiJson>::new()
        .routes(routes!(site::openapi))
        .split_for_parts();
    document.merge(openapi_route);
    openapi_rules::apply(document)
}

/// Answers smaller than this are not worth compressing.
const COMPRESS_ABOVE_BYTES: u16 = 4096;

/// The whole HTTP application: routes, `/openapi.json`, a problem+json 404 for anything else,
/// request limits, rate limits, security headers, request ids, tracing and metrics.
pub fn router(state: AppState, settings: &Settings) -> Router {
    // Routes and document from one pass; the document is kept only as the JSON it is served as
    // (its maps would cost the idle gateway more, and each request a deep copy).
    let (routes, document) = routes();
    let document = site::OpenApiJson::from(&described(document));
    // Each `layer`/`route_layer` call boxes every route once more, and axum clones those boxes
    // for each request: the layers go on as a few stacks, not one by one.
    let routes = routes
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::admit,
        ))
        .fallback(|| async { ApiError::NoRoute })
        .layer(
            ServiceBuilder::new()
                .layer(MapResponseLayer::new(timeout_problem))
                // A whole request, body upload included, within a bound: a client that
                // trickles its body cannot hold a handler forever.
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::REQUEST_TIMEOUT,
                    settings.limits.request_timeout,
                ))
                .layer(DefaultBodyLimit::max(settings.limits.body_bytes)),
        )
        .with_state(state)
        .route("/openapi.json", get(site::openapi).with_state(document))
        // gzip for what is large (the explorer's 1.7 MB script, the OpenAPI document, long
        // lists) when the client accepts it; small answers go as they are, as cheap as before.
        .layer(
            CompressionLayer::new()
                .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES))),
        );
    shop_platform::http::observe(security::headers(routes, settings.security.hsts))
}
