//! The storefront, the API explorer and the OpenAPI document: static files compiled into the
//! binary (no Node build step, no CDN; the explorer's Swagger UI is vendored from its npm
//! package by `scripts/vendor-swagger-ui.sh`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::problem::ApiError;
use super::security;

/// Everything under `static/`, embedded at build time.
#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

fn asset(path: &str) -> Option<Response> {
    let file = Assets::get(path)?;
    let mime = file.metadata.mimetype().to_owned();
    // Static files change only with a release; the storefront's JS and CSS are small.
    let cache = if path.ends_with(".html") {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    Some(
        (
            [
                (header::CONTENT_TYPE, mime),
                (header::CACHE_CONTROL, cache.to_owned()),
            ],
            file.data.into_owned(),
        )
            .into_response(),
    )
}

/// The storefront: a small shop in plain HTML, CSS and JavaScript.
#[utoipa::path(operation_id = "storefront", get, path = "/", tag = "site", responses((status = 200, description = "The storefront", content_type = "text/html")))]
pub async fn storefront() -> Response {
    asset("index.html").unwrap_or_else(|| StatusCode::NOT_FOUND.into_response())
}

/// The interactive API explorer (Swagger UI, vendored), over `/openapi.json`.
#[utoipa::path(operation_id = "docs_page", get, path = "/docs", tag = "site", responses((status = 200, description = "The API explorer", content_type = "text/html")))]
pub async fn docs() -> Response {
    let Some(mut page) = asset("docs.html") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    page.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(security::DOCS_CONTENT_SECURITY_POLICY),
    );
    page
}

/// The storefront's scripts, styles and images.
#[utoipa::path(operation_id = "static_file", get, path = "/static/{*path}", tag = "site",
    params(("path" = String, Path, description = "File under static/")),
    responses((status = 200, description = "The file"), (status = 404, body = super::dto::ProblemDoc, description = "Not found (problem+json)")))]
pub async fn static_file(Path(path): Path<String>) -> Result<Response, ApiError> {
    if path.ends_with(".html") || path.contains("..") {
        return Err(ApiError::NoRoute);
    }
    asset(&path).ok_or(ApiError::NoRoute)
}

/// The OpenAPI document as served: serialised once at start, shared by every request.
#[derive(Debug, Clone)]
pub struct OpenApiJson(Bytes);

impl From<&utoipa::openapi::OpenApi> for OpenApiJson {
    fn from(document: &utoipa::openapi::OpenApi) -> Self {
        // String-keyed maps of plain values. Every test that starts a gateway serialises it
        // here, so a document that could not be written fails the tests, not a deployment.
        #[allow(clippy::expect_used)]
        let json = serde_json::to_vec(document).expect("the OpenAPI document serialises");
        Self(Bytes::from(json))
    }
}

/// This API's OpenAPI 3.1 document, generated from the code.
#[utoipa::path(operation_id = "openapi_document", get, path = "/openapi.json", tag = "site", responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi(State(OpenApiJson(document)): State<OpenApiJson>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document,
    )
        .into_response()
}
