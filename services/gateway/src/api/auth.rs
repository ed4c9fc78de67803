//! Accounts and sessions: register, login, refresh, logout, me, and the public keys.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use shop_auth::http::AuthUser;
use shop_proto::user::v1 as pb;

use super::convert;
use super::dto::{Jwks, LoginRequest, ProblemDoc, RefreshRequest, RegisterRequest, Tokens, User};
use super::extract::ApiJson;
use super::middleware::ClientAddress;
use super::problem::ApiError;
use super::state::AppState;

fn tokens(pair: Option<pb::TokenPair>) -> Tokens {
    let pair = pair.unwrap_or_default();
    Tokens {
        access_token: pair.access_token,
        token_type: pair.token_type,
        expires_in: pair.expires_in,
        refresh_token: pair.refresh_token,
    }
}

/// Create a customer account.
#[utoipa::path(operation_id = "register", post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = User, description = "Created"), (status = 409, body = ProblemDoc, description = "email taken"),
              (status = 422, body = ProblemDoc, description = "Invalid values (problem+json)"), (status = 429, body = ProblemDoc, description = "Rate limited (problem+json)")))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let response = state
        .backends
        .register(pb::RegisterRequest {
            email: body.email,
            password: body.password,
            name: body.name,
        })
        .await?;
    let user = response
        .user
        .as_ref()
        .map(convert::user)
        .ok_or(ApiError::BadUpstreamAnswer("user"))?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Exchange email and password for tokens.
#[utoipa::path(operation_id = "login", post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Tokens, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"), (status = 429, body = ProblemDoc, description = "Rate limited (problem+json)")))]
pub async fn login(
    State(state): State<AppState>,
    client: Option<Extension<ClientAddress>>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let response = state
        .backends
        .login(pb::LoginRequest {
            email: body.email,
            password: body.password,
            client: client
                .map(|Extension(ClientAddress(ip))| ip)
                .unwrap_or_default(),
        })
        .await?;
    Ok(Json(tokens(response.tokens)))
}

/// Spend a refresh token for a new pair.
#[utoipa::path(operation_id = "refresh_tokens", post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = Tokens, description = "OK"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)")))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let response = state
        .backends
        .refresh(pb::RefreshRequest {
            refresh_token: body.refresh_token,
        })
        .await?;
    Ok(Json(tokens(response.tokens)))
}

/// End the session: the access token stops working and cannot be refreshed.
#[utoipa::path(operation_id = "logout", post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Done, nothing to return"), (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)")))]
pub async fn logout(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
) -> Result<StatusCode, ApiError> {
    state.backends.logout(caller.token()).await?;
    Ok(StatusCode::NO_CONTENT)
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
