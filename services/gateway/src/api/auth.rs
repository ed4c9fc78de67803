//! Accounts and sessions: register, login, refresh, logout, me, and the public keys.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use shop_auth::http::AuthUser;
use shop_proto::user::v1 as pb;
use tonic::Code;

use super::convert;
use super::dto::{
    Jwks, LoginRequest, ProblemDoc, RefreshRequest, RegisterRequest, SignUpAccepted, Tokens, User,
};
use super::extract::ApiJson;
use super::middleware::ClientAddress;
use super::problem::ApiError;
use super::state::AppState;
use crate::adapters::upstream::UpstreamError;

/// The cookie a browser's refresh token lives in.
const REFRESH_COOKIE: &str = "shop_refresh";
/// The header that proves a cookie-authenticated request comes from the shop's own pages: a
/// cross-site request cannot carry a custom header without a CORS preflight, which the gateway
/// never grants.
const CSRF_HEADER: &str = "x-shop-csrf";

fn tokens(pair: Option<pb::TokenPair>) -> Tokens {
    let pair = pair.unwrap_or_default();
    Tokens {
        access_token: pair.access_token,
        token_type: pair.token_type,
        expires_in: pair.expires_in,
        refresh_token: Some(pair.refresh_token),
    }
}

/// `Set-Cookie` for a browser's refresh token: script-proof, same-site only, sent only to the
/// auth routes, and gone when the browser closes. An empty token deletes the cookie.
fn refresh_cookie(token: &str) -> Result<HeaderValue, ApiError> {
    let lifetime = if token.is_empty() { "; Max-Age=0" } else { "" };
    HeaderValue::from_str(&format!(
        "{REFRESH_COOKIE}={token}; Path=/api/v1/auth; HttpOnly; Secure; SameSite=Strict{lifetime}"
    ))
    .map_err(|_| ApiError::BadUpstreamAnswer("refresh token"))
}

/// The pair as the answer: in the body, or (for a browser) the refresh token in the cookie.
fn answer(pair: Option<pb::TokenPair>, cookie: bool) -> Result<Response, ApiError> {
    let mut body = tokens(pair);
    if !cookie {
        return Ok(Json(body).into_response());
    }
    let refresh = body.refresh_token.take().unwrap_or_default();
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, refresh_cookie(&refresh)?);
    Ok(response)
}

/// The refresh token in the request's `shop_refresh` cookie, if any.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|value| !value.is_empty())
}

/// What sign-up answers in every case it accepts the values.
const SIGN_UP_ACCEPTED: SignUpAccepted = SignUpAccepted {
    status: "accepted",
    message: "Sign in with this email and password. If the email already had an account, \
              only that account's own password signs in.",
};

/// Create a customer account.
///
/// The answer is the same `202` whether the email was free (the account now exists) or
/// already had an account (nothing changes), and both cost the same password hash in the
/// user service: sign-up does not tell anyone who has an account here. Invalid values are
/// still a `422` naming the field: that says nothing about other people.
#[utoipa::path(operation_id = "register", post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 202, body = SignUpAccepted, description = "Accepted: sign in next (the same answer whether or not the email had an account)"),
              (status = 422, body = ProblemDoc, description = "Invalid values (problem+json)"), (status = 429, body = ProblemDoc, description = "Rate limited (problem+json)")))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let created = state
        .backends
        .register(pb::RegisterRequest {
            email: body.email,
            password: body.password,
            name: body.name,
        })
        .await;
    match created {
        Ok(_) => {}
        Err(UpstreamError::Status(status)) if status.code() == Code::AlreadyExists => {}
        Err(err) => return Err(err.into()),
    }
    Ok((StatusCode::ACCEPTED, Json(SIGN_UP_ACCEPTED)))
}

/// Exchange email and password for tokens.
#[utoipa::path(operation_id = "login", post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Tokens, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"), (status = 429, body = ProblemDoc, description = "Rate limited (problem+json)")))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let response = state
        .backends
        .login(pb::LoginRequest {
            email: body.email,
            password: body.password,
            client,
        })
        .await?;
    answer(response.tokens, body.cookie)
}

/// Spend a refresh token for a new pair: the one in the body, or a browser's cookie (then
/// with the `X-Shop-CSRF: 1` header, and the new refresh token goes back into the cookie).
#[utoipa::path(operation_id = "refresh_tokens", post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    params(("X-Shop-CSRF" = Option<String>, Header, description = "Required (`1`) when the refresh token comes from the cookie")),
    responses((status = 200, body = Tokens, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"),
              (status = 403, body = ProblemDoc, description = "the cookie without the X-Shop-CSRF header (problem+json)")))]
pub async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    let (refresh_token, from_cookie) = match body.refresh_token {
        Some(token) => (token, false),
        None => {
            if headers
                .get(CSRF_HEADER)
                .is_none_or(|v| v.as_bytes() != b"1")
            {
                return Err(ApiError::Forbidden(
                    "a refresh from the cookie needs the X-Shop-CSRF: 1 header",
                ));
            }
            (cookie_token(&headers).ok_or(ApiError::NoSession)?, true)
        }
    };
    let response = state
        .backends
        .refresh(pb::RefreshRequest { refresh_token })
        .await?;
    answer(response.tokens, from_cookie)
}

/// End the session: the access token stops working and cannot be refreshed.
#[utoipa::path(operation_id = "logout", post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Done, nothing to return"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)")))]
pub async fn logout(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Response, ApiError> {
    state.backends.logout(caller.token()).await?;
    // A browser's cookie goes too; the session it named is over anyway.
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, refresh_cookie("")?)],
    )
        .into_response())
}

/// The signed-in account.
#[utoipa::path(operation_id = "get_me", get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = User, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)")))]
pub async fn me(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<Json<User>, ApiError> {
    fetch_user(&state, &caller).await.map(Json)
}

async fn fetch_user(state: &AppState, caller: &shop_auth::Caller) -> Result<User, ApiError> {
    let response = state
        .backends
        .get_user(caller.token(), caller.user_id().to_string())
        .await?;
    response
        .user
        .as_ref()
        .map(convert::user)
        .ok_or(ApiError::BadUpstreamAnswer("user"))
}

/// The public keys that verify access tokens (for Istio RequestAuthentication and clients).
#[utoipa::path(operation_id = "get_jwks", get, path = "/.well-known/jwks.json", tag = "auth", responses((status = 200, body = Jwks, description = "OK")))]
pub async fn jwks(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let response = state.backends.jwks().await?;
    let keys = response
        .keys
        .into_iter()
        .map(|k| serde_json::json!({ "kty": k.kty, "crv": k.crv, "x": k.x, "kid": k.kid, "alg": k.alg, "use": k.r#use }))
        .collect();
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(Jwks { keys }),
    ))
}
