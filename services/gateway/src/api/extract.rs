//! Request extractors whose rejections are problem+json like every other error: JSON bodies
//! (unknown fields refused, size limited), query strings, and the Idempotency-Key header.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::ApiError;

/// A JSON body. Malformed JSON, a wrong type or an unknown field is 400; a body over the limit
/// is 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(JsonRejection::BytesRejection(rejection))
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::TooLarge)
            }
            Err(JsonRejection::JsonDataError(err)) => Err(ApiError::BadRequest(err.body_text())),
            Err(JsonRejection::JsonSyntaxError(_)) => Err(ApiError::BadRequest(
                "the body is not valid JSON".to_owned(),
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::BadRequest(
                "send the body as application/json".to_owned(),
            )),
            Err(other) => Err(ApiError::BadRequest(other.body_text())),
        }
    }
}

/// Query parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|err: QueryRejection| ApiError::BadRequest(err.body_text()))
    }
}

/// The `Idempotency-Key` header, required: 1 to 255 printable characters.
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let key = parts
            .headers
            .get("idempotency-key")
            .ok_or_else(|| {
                ApiError::BadRequest("the Idempotency-Key header is required".to_owned())
            })?
            .to_str()
            .map_err(|_| {
                ApiError::BadRequest("the Idempotency-Key header must be text".to_owned())
            })?
            .trim();
        if key.is_empty() || key.len() > 255 {
            return Err(ApiError::BadRequest(
                "the Idempotency-Key header must be 1 to 255 characters".to_owned(),
            ));
        }
        Ok(Self(key.to_owned()))
    }
}

/// An optional `Idempotency-Key` that must be a UUID when present (admin writes).
#[derive(Debug, Clone)]
pub struct OptionalRequestId(pub Option<uuid::Uuid>);

impl<S: Send + Sync> FromRequestParts<S> for OptionalRequestId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(Self(None));
        };
        value
            .to_str()
            .ok()
            .and_then(|v| uuid::Uuid::parse_str(v.trim()).ok())
            .map(|id| Self(Some(id)))
            .ok_or_else(|| {
                ApiError::BadRequest("the Idempotency-Key header must be a UUID here".to_owned())
            })
    }
}
