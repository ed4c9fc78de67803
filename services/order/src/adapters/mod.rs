//! Adapters of the order service: gRPC and AMQP (inbound); Postgres and the inventory and
//! payment services (outbound).

pub mod amqp;
pub mod grpc;
pub mod inventory_client;
pub mod payment_client;
pub mod postgres;
