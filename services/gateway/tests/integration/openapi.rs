//! The OpenAPI document is generated from the same code as the router: every route appears.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test fails loudly at the first surprise.

use crate::support::Gateway;
use axum::http::StatusCode;

/// Every route the router serves, by method and path template.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/refresh"),
    ("post", "/api/v1/auth/logout"),
    ("get", "/api/v1/me"),
    ("get", "/api/v1/products"),
    ("post", "/api/v1/products"),
    ("get", "/api/v1/products/{id}"),
    ("patch", "/api/v1/products/{id}"),
    ("post", "/api/v1/products/{id}/stock"),
    ("post", "/api/v1/orders"),
    ("get", "/api/v1/orders"),
    ("get", "/api/v1/orders/{id}"),
    ("post", "/api/v1/orders/{id}/cancel"),
    ("get", "/api/v1/dashboard"),
    ("get", "/.well-known/jwks.json"),
    ("get", "/api/v1/cart"),
    ("delete", "/api/v1/cart"),
    ("put", "/api/v1/cart/items/{product_id}"),
    ("post", "/api/v1/cart/merge"),
    ("get", "/api/v1/shipping/options"),
    ("post", "/api/v1/orders/{id}/ship"),
    ("post", "/api/v1/orders/{id}/deliver"),
    ("get", "/api/v1/admin/flags"),
    ("get", "/openapi.json"),
    ("get", "/docs"),
    ("get", "/"),
    ("get", "/static/{path}"),
];

#[tokio::test]
async fn the_served_document_is_openapi_3_1_and_lists_every_route() {
    let gw = Gateway::start().await;
    let reply = gw.get("/openapi.json", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let document = reply.body;
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    for (method, path) in ROUTES {
        assert!(
            document["paths"][path][method].is_object(),
            "{} {path} is served but not documented",
            method.to_uppercase()
        );
    }
    let documented: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "the document lists routes the router does not serve"
    );
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let gw = Gateway::start().await;
    for (method, path) in ROUTES {
        let uri = path
            .replace("{id}", "x")
            .replace("{product_id}", "x")
            .replace("{path}", "app.js");
        let reply = gw
            .send(
                method.to_uppercase().parse().unwrap(),
                &uri,
                None,
                None,
                &[],
            )
            .await;
        assert!(
            !(reply.status == StatusCode::NOT_FOUND && reply.body["detail"] == "no such route")
                && reply.status != StatusCode::METHOD_NOT_ALLOWED,
            "{} {uri} is documented but not routed ({})",
            method.to_uppercase(),
            reply.status
        );
    }
}
