//! Security headers on every response of the gateway: the storefront, the docs, the API and
//! its problems alike.
//!
//! The Content-Security-Policy is strict: scripts, styles, images and requests only from the
//! gateway itself, no inline script or style (the pages load theirs from `/static/`), no
//! plugins, and no framing by anyone (`frame-ancestors 'none'`, with `X-Frame-Options` for
//! older browsers), so a page cannot be laid under another site's clicks. The browser test
//! loads every page under it and fails on any violation it reports.

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

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
/// is reached over HTTPS alone). One stack, added as one layer: axum boxes every route once per
/// `Router::layer` call and clones those boxes for each request.
pub fn headers<S: Clone + Send + Sync + 'static>(router: Router<S>, hsts: bool) -> Router<S> {
    let fixed = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    router.layer(
        ServiceBuilder::new()
            // A page may set a policy of its own (only `/docs` does); every other response
            // gets the strict one.
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CONTENT_SECURITY_POLICY),
            ))
            .layer(fixed(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(fixed(header::X_FRAME_OPTIONS, "DENY"))
            .layer(fixed(header::REFERRER_POLICY, "no-referrer"))
            .layer(fixed(
                HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ))
            .layer(fixed(
                HeaderName::from_static("permissions-policy"),
                "camera=(), microphone=(), geolocation=(), payment=()",
            ))
            .option_layer(hsts.then(|| fixed(header::STRICT_TRANSPORT_SECURITY, HSTS))),
    )
}
