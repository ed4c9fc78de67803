//! Adapters of the payment service: gRPC and AMQP (inbound), Postgres and the card processor
//! (outbound).

pub mod amqp;
pub mod grpc;
pub mod postgres;
pub mod simulated_processor;
