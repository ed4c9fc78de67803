//! Adapters of the inventory service: gRPC (inbound), AMQP consumers (inbound), Postgres and
//! the Redis cache (outbound), and the demo catalog.

pub mod amqp;
pub mod cached_catalog;
pub mod grpc;
pub mod postgres;
pub mod seed;
