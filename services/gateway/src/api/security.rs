//! Security headers on every response of the gateway: the storefront, the docs, the API and
//! its problems alike.
//!
//! The Content-Security-Policy is strict: scripts, styles, images and requests only from the
//! gateway itself, no inline script or style (the pages load theirs from `/static/`), no
//! plugins, and no framing by anyone (`frame-ancestors 'none'`, with `X-Frame-Options` for
//! older browsers), so a page cannot be laid under another site's clicks. The browser test
//! loads every page under it and fails on any violation it reports.

use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;
use tower::util::MapResponseLayer;

/// The policy every response carries: nothing from outside the origin, nothing inline.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
    manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The API explorer's page (`/docs`): the same, except that images may also be `data:` URLs,
/// which the vendored Swagger UI stylesheet uses for its icons. An image cannot run script.
pub const DOCS_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One year, as the HSTS preload list asks.
const HSTS: &str = "max-age=31536000; includeSubDomains";

/// Adds the security headers to every response of `router` (HSTS only when `hsts`: the shop
/// is reached over HTTPS alone). One step that sets them all, rather than a layer per header:
/// every layer is one more future each request moves through.
pub fn headers<S: Clone + Send + Sync + 'static>(router: Router<S>, hsts: bool) -> Router<S> {
    router.layer(MapResponseLayer::new(move |mut response: Response| {
        set(response.headers_mut(), hsts);
        response
    }))
}

/// The headers as constants: `from_static` checks every byte of a name or value, and in a
/// constant it does so once, when the gateway is compiled.
const STRICT_POLICY: HeaderValue = HeaderValue::from_static(CONTENT_SECURITY_POLICY);
const FIXED: [(HeaderName, HeaderValue); 5] = [
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
    (
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    ),
];
const HSTS_VALUE: HeaderValue = HeaderValue::from_static(HSTS);

fn set(headers: &mut HeaderMap, hsts: bool) {
    // Room for all of them (and the request id) at once, not a regrowth halfway.
    headers.reserve(FIXED.len() + 3);
    // A page may set a policy of its own (only `/docs` does); every other response gets the
    // strict one.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(STRICT_POLICY);
    for (name, value) in FIXED {
        headers.insert(name, value);
    }
    if hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS_VALUE);
    }
}
