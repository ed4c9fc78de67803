//! Tokens on gRPC: authorizing calls on the server, attaching tokens on client calls.
//!
//! [`AuthLayer`] wraps a tonic service with its [`AccessTable`]. Before the request is decoded,
//! validated or reaches the handler, the layer finds the RPC in the table and the principal in
//! the `authorization: Bearer <token>` metadata, and refuses the call unless the table admits
//! that principal: UNAUTHENTICATED without a (valid) token, PERMISSION_DENIED for a principal the
//! table does not list, or for an RPC the table does not list at all. Every refusal is counted
//! in `auth_calls_refused_total{service,method,reason}` and carries its reason ([`reasons`]) as
//! a `google.rpc.ErrorInfo`. An admitted call carries its
//! [`Principal`] (and, for a person, the [`Caller`]) in the request extensions.

use std::convert::Infallible;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use shop_platform::access::{AccessTable, CallerKind, Decision};
use tonic::server::NamedService;
use tonic::{Code, Request, Status};
use tower::{Layer, Service};

use crate::caller::{Caller, Principal, ServiceCaller};
use crate::verifier::{AuthError, TokenVerifier};

/// Authorizes the calls of the service it wraps by its table.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    verifier: TokenVerifier,
    table: &'static AccessTable,
}

impl AuthLayer {
    pub fn new(verifier: TokenVerifier, table: &'static AccessTable) -> Self {
        Self { verifier, table }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authorized<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorized {
            inner,
            verifier: self.verifier.clone(),
            table: self.table,
        }
    }
}

/// A tonic service whose calls have been authorized. Keeps the wrapped service's name, so it
/// registers, reports health and reflects like the original.
#[derive(Debug, Clone)]
pub struct Authorized<S> {
    inner: S,
    verifier: TokenVerifier,
    table: &'static AccessTable,
}

impl<S: NamedService> NamedService for Authorized<S> {
    const NAME: &'static str = S::NAME;
}

/// The `ErrorInfo` reasons of the calls this layer refuses; a client (or a test) tells a
/// refusal by the table from a handler's own answer by them.
pub mod reasons {
    /// UNAUTHENTICATED: the RPC needs a principal and the call carried no token.
    pub const TOKEN_REQUIRED: &str = "TOKEN_REQUIRED";
    /// UNAUTHENTICATED: the token is malformed, forged, expired, or its session revoked.
    pub const TOKEN_INVALID: &str = "TOKEN_INVALID";
    /// PERMISSION_DENIED: the table does not admit this principal to this RPC.
    pub const CALLER_NOT_ALLOWED: &str = "CALLER_NOT_ALLOWED";
    /// PERMISSION_DENIED: the RPC is not in the table at all.
    pub const RPC_NOT_LISTED: &str = "RPC_NOT_LISTED";
    /// UNAVAILABLE: the token could not be checked right now.
    pub const AUTH_UNAVAILABLE: &str = "AUTH_UNAVAILABLE";

    /// Every reason above.
    pub const ALL: [&str; 5] = [
        TOKEN_REQUIRED,
        TOKEN_INVALID,
        CALLER_NOT_ALLOWED,
        RPC_NOT_LISTED,
        AUTH_UNAVAILABLE,
    ];
}

/// A refused call: the status to answer, with its reason.
struct Refusal {
    status: Status,
    reason: &'static str,
}

impl Refusal {
    fn new(code: Code, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: shop_platform::grpc_status::with_reason(code, reason, message, &[]),
            reason,
        }
    }
}

impl<S, B> Service<http::Request<B>> for Authorized<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let table = self.table;
        let verifier = self.verifier.clone();
        Box::pin(async move {
            let method = method_of(request.uri().path(), table.service).to_owned();
            match authorize(&verifier, table, &method, request.headers()).await {
                Ok(Some(principal)) => {
                    if let Principal::User(caller) = &principal {
                        request.extensions_mut().insert(caller.clone());
                    }
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Ok(None) => inner.call(request).await,
                Err(refusal) => {
                    metrics::counter!(
                        "auth_calls_refused_total",
                        "service" => table.service,
                        "method" => method.clone(),
                        "reason" => refusal.reason.to_ascii_lowercase(),
                    )
                    .increment(1);
                    tracing::debug!(
                        service = table.service,
                        method,
                        reason = refusal.reason,
                        "call refused"
                    );
                    Ok(refusal.status.into_http())
                }
            }
        })
    }
}

/// `PlaceOrder` of `/shop.order.v1.OrderService/PlaceOrder`; empty when the path is not one of
/// `service`'s (which no table lists, so it is refused).
fn method_of<'a>(path: &'a str, service: &str) -> &'a str {
    path.strip_prefix('/')
        .and_then(|rest| rest.strip_prefix(service))
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or("")
}

/// The principal of an admitted call (`None`: anonymous on a public RPC), or the refusal.
async fn authorize(
    verifier: &TokenVerifier,
    table: &AccessTable,
    method: &str,
    headers: &http::HeaderMap,
) -> Result<Option<Principal>, Refusal> {
    if table.rule(method).is_none() {
        return Err(Refusal::new(
            Code::PermissionDenied,
            reasons::RPC_NOT_LISTED,
            format!(
                "{method:?} is not in the authorization table of {}",
                table.service
            ),
        ));
    }
    let token = match bearer_token(headers) {
        Ok(Some(token)) => token,
        Ok(None) => {
            return match table.decide(method, CallerKind::Anonymous) {
                Decision::Allowed => Ok(None),
                _ => Err(Refusal::new(
                    Code::Unauthenticated,
                    reasons::TOKEN_REQUIRED,
                    "this call needs a bearer token",
                )),
            };
        }
        Err(reason) => {
            tracing::debug!(reason, "malformed authorization metadata");
            return Err(Refusal::new(
                Code::Unauthenticated,
                reasons::TOKEN_INVALID,
                "invalid credentials",
            ));
        }
    };
    let principal = match verifier.verify(token).await {
        Ok(principal) => principal,
        Err(AuthError::Unauthenticated(_)) => {
            return Err(Refusal::new(
                Code::Unauthenticated,
                reasons::TOKEN_INVALID,
                "invalid credentials",
            ));
        }
        Err(AuthError::Unavailable(_)) => {
            return Err(Refusal::new(
                Code::Unavailable,
                reasons::AUTH_UNAVAILABLE,
                "authentication is temporarily unavailable",
            ));
        }
    };
    match table.decide(method, principal.kind()) {
        Decision::Allowed => Ok(Some(principal)),
        _ => Err(Refusal::new(
            Code::PermissionDenied,
            reasons::CALLER_NOT_ALLOWED,
            format!("{} may not call {method}", principal.label()),
        )),
    }
}

/// The token of an `authorization: Bearer <token>` header: `Ok(None)` when there is no such
/// header, `Err` when there is one that is not a bearer token.
pub fn bearer_token(headers: &http::HeaderMap) -> Result<Option<&str>, &'static str> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| "authorization is not text")?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or("authorization is not `Bearer <token>`")?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err("authorization is not `Bearer <token>`");
    }
    Ok(Some(token.trim()))
}

/// The person calling, or UNAUTHENTICATED (for RPCs the table opens to people).
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("this call needs a person's bearer token"))
}

/// The person calling, if the request carried a person's token.
pub fn optional_caller<T>(request: &Request<T>) -> Option<Caller> {
    request.extensions().get::<Caller>().cloned()
}

/// The service calling, or PERMISSION_DENIED (for RPCs the table opens to services).
pub fn service_caller<T>(request: &Request<T>) -> Result<ServiceCaller, Status> {
    match request.extensions().get::<Principal>() {
        Some(Principal::Service(service)) => Ok(service.clone()),
        _ => Err(Status::permission_denied("this call needs a service token")),
    }
}

/// PERMISSION_DENIED unless the caller is an admin.
pub fn require_admin(caller: &Caller) -> Result<(), Status> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(Status::permission_denied("this call needs the admin role"))
    }
}

/// Adds `authorization: Bearer <token>` to an outgoing request: how the gateway forwards a
/// person's identity to the service that acts for them.
pub fn forward<T>(request: &mut Request<T>, token: &str) {
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_method_is_read_from_the_path_of_the_tables_service_only() {
        let service = "shop.order.v1.OrderService";
        assert_eq!(
            method_of("/shop.order.v1.OrderService/PlaceOrder", service),
            "PlaceOrder"
        );
        assert_eq!(
            method_of("/shop.order.v1.OrderServiceX/PlaceOrder", service),
            ""
        );
        assert_eq!(method_of("/shop.user.v1.UserService/Login", service), "");
        assert_eq!(method_of("PlaceOrder", service), "");
    }

    fn headers(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn bearer_tokens_are_read_and_other_schemes_refused() {
        assert_eq!(bearer_token(&http::HeaderMap::new()), Ok(None));
        assert_eq!(bearer_token(&headers("Bearer abc")), Ok(Some("abc")));
        assert_eq!(bearer_token(&headers("bearer abc")), Ok(Some("abc")));
        assert!(bearer_token(&headers("Basic dXNlcjpwdw==")).is_err());
        assert!(bearer_token(&headers("Bearer ")).is_err());
        assert!(bearer_token(&headers("abc")).is_err());
    }
}
