//! The published language of Ferris Shop: what services tell each other through RabbitMQ.
//!
//! Every event travels as a CloudEvents 1.0 envelope in JSON structured mode ([`Envelope`]).
//! Its `type` is also the AMQP routing key (`order.confirmed`), its `id` (a UUIDv7) is also the
//! AMQP `message_id` and the key consumers deduplicate on, and its `dataschema` names the
//! payload version. Payloads only grow compatibly within a version: fields are added with
//! defaults, never renamed or removed; anything else is a new version published alongside.

mod envelope;
pub mod order;
pub mod payment;
pub mod product;
pub mod subscriptions;
pub mod user;

pub use envelope::{DecodeError, Envelope, Event, Money, MoneyError, SPEC_VERSION};
