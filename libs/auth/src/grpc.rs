//! Tokens on gRPC: verifying them on the server, forwarding them on client calls.
//!
//! [`AuthLayer`] wraps a tonic service. A call that carries `authorization: Bearer <token>` is
//! verified; a valid one puts the [`Caller`] in the request extensions, an invalid one is
//! refused with UNAUTHENTICATED before the handler runs. A call without a token passes through,
//! because some RPCs are public (Login, GetJwks, ListProducts); handlers that need a caller ask
//! for one with [`caller`] and get UNAUTHENTICATED when there is none.

use std::convert::Infallible;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::server::NamedService;
use tonic::{Request, Status};
use tower::{Layer, Service};

use crate::caller::Caller;
use crate::verifier::{AuthError, TokenVerifier};

/// Authenticates the calls of the service it wraps.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    verifier: TokenVerifier,
}

impl AuthLayer {
    pub fn new(verifier: TokenVerifier) -> Self {
        Self { verifier }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticated<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticated {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// A tonic service whose calls have been authenticated. Keeps the wrapped service's name, so it
/// registers, reports health and reflects like the original.
#[derive(Debug, Clone)]
pub struct Authenticated<S> {
    inner: S,
    verifier: TokenVerifier,
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<B>> for Authenticated<S>
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
        let token = match bearer_token(request.headers()) {
            Ok(Some(token)) => token.to_owned(),
            Ok(None) => return Box::pin(inner.call(request)),
            Err(reason) => {
                tracing::debug!(reason, "malformed authorization metadata");
                return Box::pin(async {
                    Ok(Status::unauthenticated("invalid credentials").into_http())
                });
            }
        };
        let verifier = self.verifier.clone();
        Box::pin(async move {
            match verifier.verify(&token).await {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(AuthError::Unauthenticated(_)) => {
                    Ok(Status::unauthenticated("invalid credentials").into_http())
                }
                Err(AuthError::Unavailable(_)) => Ok(Status::unavailable(
                    "authentication is temporarily unavailable",
                )
                .into_http()),
            }
        })
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

/// The authenticated caller of a request, or UNAUTHENTICATED.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("this call needs a bearer token"))
}

/// The authenticated caller, if the request carried a token.
pub fn optional_caller<T>(request: &Request<T>) -> Option<Caller> {
    request.extensions().get::<Caller>().cloned()
}

/// PERMISSION_DENIED unless the caller is an admin.
pub fn require_admin(caller: &Caller) -> Result<(), Status> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(Status::permission_denied("this call needs the admin role"))
    }
}

/// Adds `authorization: Bearer <token>` to an outgoing request: how a service forwards its
/// caller's identity to the next one.
pub fn forward<T>(request: &mut Request<T>, token: &str) {
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
