//! Request extractors whose rejections are problem+json like every other error: JSON bodies
//! (unknown fields refused, objects only, size limited), query strings, and the Idempotency-Key header.
//!
//! Both apply the shop's one rule for text (`shop_kernel::validation::forbidden_character`)
//! to every string they carry, keys included: a NUL or another control character is a 422
//! naming the field, before any handler or backend sees it.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shop_kernel::validation::forbidden_character;
use shop_platform::problem::FieldError;
use shop_proto::common::v1::PageRequest;

use super::objects_only::Strict;
use super::problem::ApiError;

/// The field (`items[1].card_token`, `name`) of the first string in `value` that breaks the
/// text rule, and the character.
fn first_forbidden(value: &Value, path: &str) -> Option<(String, char)> {
    let field = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) => forbidden_character(text).map(|c| (path.to_owned(), c)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_forbidden(item, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            forbidden_character(key)
                .map(|c| (field(key), c))
                .or_else(|| first_forbidden(item, &field(key)))
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// The text rule for a value read without these extractors.
pub fn check_text(field: &str, text: &str) -> Result<(), ApiError> {
    forbidden_character(text).map_or(Ok(()), |c| Err(control_character(field.to_owned(), c)))
}

fn control_character(field: String, c: char) -> ApiError {
    ApiError::Invalid(vec![FieldError {
        field,
        message: format!(
            "must not contain control characters (found U+{:04X})",
            u32::from(c)
        ),
    }])
}

/// A JSON body. Malformed JSON, a wrong type, an unknown field or a struct given as an array
/// (see [`super::objects_only`]) is 400; a body over the limit is 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<Value>::from_request(request, state).await {
            Ok(axum::Json(value)) => value,
            Err(JsonRejection::BytesRejection(rejection))
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                return Err(ApiError::TooLarge);
            }
            Err(JsonRejection::JsonDataError(err)) => {
                return Err(ApiError::BadRequest(err.body_text()));
            }
            Err(JsonRejection::JsonSyntaxError(_)) => {
                return Err(ApiError::BadRequest(
                    "the body is not valid JSON".to_owned(),
                ));
            }
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(ApiError::BadRequest(
                    "send the body as application/json".to_owned(),
                ));
            }
            Err(other) => return Err(ApiError::BadRequest(other.body_text())),
        };
        if let Some((field, c)) = first_forbidden(&value, "") {
            return Err(control_character(field, c));
        }
        serde_path_to_error::deserialize(Strict(value))
            .map(Self)
            .map_err(|err| {
                ApiError::BadRequest(format!(
                    "Failed to deserialize the JSON body into the target type: {err}"
                ))
            })
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
        let pairs = axum::extract::Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|err: QueryRejection| ApiError::BadRequest(err.body_text()))?;
        for (key, value) in &pairs.0 {
            if let Some(c) = forbidden_character(key).or_else(|| forbidden_character(value)) {
                return Err(control_character(key.clone(), c));
            }
        }
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

/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// A page request from a listing's query: a size from 1 to [`MAX_PAGE_SIZE`] (0, the
/// backend's default, when absent), and the token as given.
pub fn page_request(
    page_size: Option<u32>,
    page_token: Option<String>,
    errors: &mut Vec<FieldError>,
) -> PageRequest {
    let page_size = match page_size {
        None => 0,
        Some(size @ 1..=MAX_PAGE_SIZE) => i32::try_from(size).unwrap_or(0),
        Some(_) => {
            errors.push(FieldError {
                field: "page_size".to_owned(),
                message: format!("must be 1 to {MAX_PAGE_SIZE}"),
            });
            0
        }
    };
    PageRequest {
        page_size,
        page_token: page_token.unwrap_or_default(),
    }
}
