//! Shipping quotes for the signed-in customer's cart.
#![allow(unused_qualifications)] // utoipa's macros expand to fully qualified paths.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use shop_auth::http::AuthUser;
use shop_proto::order::v1 as pb;
use utoipa::IntoParams;

use super::convert;
use super::dto::{ProblemDoc, ShippingOption, ShippingQuote};
use super::extract::ApiQuery;
use super::problem::ApiError;
use super::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ShippingQuery {
    /// Where to ship: ISO 3166-1 alpha-2, in capitals.
    #[param(value_type = super::dto::CountryCode, inline)]
    pub country: String,
}

/// What each shipping method to `country` costs for the cart as it is now, and how long it
/// takes. The shop ships from Ireland; zones are Ireland, the rest of the EU and the world;
/// standard shipping is free above a zone's threshold (50.00 EUR in Ireland, 100.00 EUR in the
/// EU). Checkout charges the same quote, or answers 409.
#[utoipa::path(operation_id = "shipping_options", get, path = "/api/v1/shipping/options", tag = "cart", security(("bearer" = [])), params(ShippingQuery),
    responses((status = 200, body = ShippingQuote, description = "OK"), (status = 400, body = ProblemDoc, description = "Malformed query (problem+json)"),
              (status = 401, body = ProblemDoc, description = "Authentication required (problem+json)"),
              (status = 422, body = ProblemDoc, description = "not a country code (problem+json)")))]
pub async fn options(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiQuery(query): ApiQuery<ShippingQuery>,
) -> Result<Json<ShippingQuote>, ApiError> {
    let message = pb::GetShippingOptionsRequest {
        country: query.country.clone(),
    };
    let response = state
        .backends
        .get_shipping_options(caller.token(), message)
        .await?;
    let subtotal = response
        .subtotal
        .as_ref()
        .map(convert::money)
        .ok_or(ApiError::BadUpstreamAnswer("shipping quote"))?;
    let options = response
        .options
        .iter()
        .map(|o| {
            Some(ShippingOption {
                method: convert::shipping_method(o.method())?,
                price: convert::money(o.price.as_ref()?),
                min_days: o.min_days,
                max_days: o.max_days,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or(ApiError::BadUpstreamAnswer("shipping option"))?;
    Ok(Json(ShippingQuote {
        country: query.country,
        subtotal,
        options,
    }))
}
