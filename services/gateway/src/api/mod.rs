//! The HTTP API of the shop, mounted under `/api/v1`.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The gateway's router. Unknown paths answer 404 as `application/problem+json`.
pub fn router() -> Router {
    Router::new().fallback(not_found)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::json!({
            "type": "https://ferris-shop.dev/problems/not-found",
            "title": "Not Found",
            "status": 404,
        })
        .to_string(),
    )
        .into_response()
}
