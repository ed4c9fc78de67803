//! The CloudEvents 1.0 envelope (JSON structured mode) and the trait every payload implements.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use shop_kernel::{Money, MoneyError};

/// The CloudEvents specification version we emit.
pub const SPEC_VERSION: &str = "1.0";

/// A payload type of the published language.
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The CloudEvents `type`, which is also the AMQP routing key, e.g. `order.confirmed`.
    const TYPE: &'static str;
    /// The payload version; part of `dataschema`.
    const VERSION: u32;

    /// The aggregate the event is about (CloudEvents `subject`), e.g. the order id.
    fn subject(&self) -> String;

    /// The CloudEvents `dataschema` of this payload version.
    fn data_schema() -> String {
        format!("urn:ferris-shop:events:{}:v{}", Self::TYPE, Self::VERSION)
    }
}

/// A CloudEvents 1.0 envelope around a payload `T`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub specversion: String,
    /// UUIDv7; also the AMQP `message_id` and the consumers' deduplication key.
    pub id: Uuid,
    /// The producing service, e.g. `/ferris-shop/order`.
    pub source: String,
    /// The event type; also the routing key.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the state change happened (the producing transaction).
    pub time: DateTime<Utc>,
    /// The aggregate id.
    pub subject: String,
    pub datacontenttype: String,
    /// Names the payload version, e.g. `urn:ferris-shop:events:order.confirmed:v1`.
    pub dataschema: String,
    pub data: T,
}

impl<T: Event> Envelope<T> {
    /// Wraps `data` in a new envelope with a fresh UUIDv7 id and the current time.
    pub fn new(source: &str, data: T) -> Self {
        Self {
            specversion: SPEC_VERSION.to_owned(),
            id: Uuid::now_v7(),
            source: source.to_owned(),
            event_type: T::TYPE.to_owned(),
            time: Utc::now(),
            subject: data.subject(),
            datacontenttype: "application/json".to_owned(),
            dataschema: T::data_schema(),
            data,
        }
    }

    /// Reads an envelope of `T` from its JSON form, checking type and version.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let envelope: Envelope<serde_json::Value> =
            serde_json::from_slice(bytes).map_err(DecodeError::Json)?;
        if envelope.specversion != SPEC_VERSION {
            return Err(DecodeError::SpecVersion(envelope.specversion));
        }
        if envelope.event_type != T::TYPE {
            return Err(DecodeError::Type {
                expected: T::TYPE,
                found: envelope.event_type,
            });
        }
        if envelope.dataschema != T::data_schema() {
            return Err(DecodeError::Schema {
                expected: T::data_schema(),
                found: envelope.dataschema,
            });
        }
        let data = serde_json::from_value(envelope.data).map_err(DecodeError::Json)?;
        Ok(Envelope {
            specversion: envelope.specversion,
            id: envelope.id,
            source: envelope.source,
            event_type: envelope.event_type,
            time: envelope.time,
            subject: envelope.subject,
            datacontenttype: envelope.datacontenttype,
            dataschema: envelope.dataschema,
            data,
        })
    }
}

impl<T: Serialize> Envelope<T> {
    /// The JSON form that goes on the wire.
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// Why bytes are not an envelope of the expected event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("not a valid event: {0}")]
    Json(#[source] serde_json::Error),
    #[error("unsupported CloudEvents specversion {0:?}")]
    SpecVersion(String),
    #[error("expected an event of type {expected}, found {found}")]
    Type {
        expected: &'static str,
        found: String,
    },
    #[error("unsupported payload version: expected {expected}, found {found}")]
    Schema { expected: String, found: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderCancelled;

    fn cancelled() -> OrderCancelled {
        OrderCancelled {
            order_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            reason: "customer request".to_owned(),
            cancelled_at: Utc::now(),
        }
    }

    #[test]
    fn an_envelope_round_trips_through_json() {
        let envelope = Envelope::new("/ferris-shop/order", cancelled());
        let bytes = serde_json::to_vec(&envelope).unwrap();
        let decoded = Envelope::<OrderCancelled>::decode(&bytes).unwrap();
        assert_eq!(decoded, envelope);
    }

    #[test]
    fn the_envelope_carries_the_cloudevents_attributes() {
        let envelope = Envelope::new("/ferris-shop/order", cancelled());
        let json = envelope.to_json().unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "order.cancelled");
        assert_eq!(json["source"], "/ferris-shop/order");
        assert_eq!(json["subject"], envelope.data.order_id.to_string());
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(
            json["dataschema"],
            "urn:ferris-shop:events:order.cancelled:v1"
        );
        assert_eq!(envelope.id.get_version_num(), 7);
    }

    #[test]
    fn decoding_checks_the_type_and_the_version() {
        let mut json = Envelope::new("/x", cancelled()).to_json().unwrap();
        json["type"] = "order.confirmed".into();
        let err =
            Envelope::<OrderCancelled>::decode(&serde_json::to_vec(&json).unwrap()).unwrap_err();
        assert!(matches!(err, DecodeError::Type { .. }), "{err}");

        let mut json = Envelope::new("/x", cancelled()).to_json().unwrap();
        json["dataschema"] = "urn:ferris-shop:events:order.cancelled:v2".into();
        let err =
            Envelope::<OrderCancelled>::decode(&serde_json::to_vec(&json).unwrap()).unwrap_err();
        assert!(matches!(err, DecodeError::Schema { .. }), "{err}");
    }

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        assert!(Envelope::<OrderCancelled>::decode(b"\xff\x00 not json").is_err());
        assert!(Envelope::<OrderCancelled>::decode(b"{}").is_err());
    }
}
