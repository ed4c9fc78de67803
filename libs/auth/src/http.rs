//! Tokens on HTTP: the gateway's axum extractors.
//!
//! `AuthUser` accepts any valid token of a person; `AdminUser` also requires the admin role. A
//! missing or invalid token (a service token included: services never call the public API) is
//! 401, a valid token without the role 403, both as problem+json.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use shop_platform::problem::Problem;

use crate::caller::Caller;
use crate::grpc::bearer_token;
use crate::verifier::{AuthError, TokenVerifier};

/// Any signed-in caller.
#[derive(Debug, Clone)]
pub struct AuthUser(pub Caller);

/// A signed-in caller with the admin role.
#[derive(Debug, Clone)]
pub struct AdminUser(pub Caller);

/// Why a request was not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRejection {
    /// No token, or one that is not valid: 401.
    Unauthenticated,
    /// A valid token without the needed role: 403.
    Forbidden,
    /// The token could not be checked right now: 503.
    Unavailable,
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            )
            .with_detail("send a valid access token as `Authorization: Bearer <token>`"),
            Self::Forbidden => Problem::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed")
                .with_detail("this operation needs the admin role"),
            Self::Unavailable => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth-unavailable",
                "Authentication temporarily unavailable",
            )
            .with_retry_after(1),
        }
        .into_response()
    }
}

async fn authenticate(parts: &Parts, verifier: &TokenVerifier) -> Result<Caller, AuthRejection> {
    // A middleware earlier in the stack (the rate limiter) may have verified the token already.
    if let Some(caller) = parts.extensions.get::<Caller>() {
        return Ok(caller.clone());
    }
    let token = match bearer_token(&parts.headers) {
        Ok(Some(token)) => token,
        Ok(None) | Err(_) => return Err(AuthRejection::Unauthenticated),
    };
    verifier.verify_user(token).await.map_err(|err| match err {
        AuthError::Unauthenticated(_) => AuthRejection::Unauthenticated,
        AuthError::Unavailable(_) => AuthRejection::Unavailable,
    })
}

impl<S> FromRequestParts<S> for AuthUser
where
    TokenVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = TokenVerifier::from_ref(state);
        authenticate(parts, &verifier).await.map(Self)
    }
}

impl<S> FromRequestParts<S> for AdminUser
where
    TokenVerifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = TokenVerifier::from_ref(state);
        let caller = authenticate(parts, &verifier).await?;
        if caller.is_admin() {
            Ok(Self(caller))
        } else {
            Err(AuthRejection::Forbidden)
        }
    }
}
