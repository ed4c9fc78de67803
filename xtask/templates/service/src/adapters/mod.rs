//! Adapters of the {{name}} service: gRPC and AMQP in, Postgres out.

pub mod amqp;
pub mod grpc;
pub mod postgres;
