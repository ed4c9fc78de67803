//! Adapters of the user service: the gRPC server, and the stores and hasher the use cases
//! reach through their ports.

pub mod amqp;
pub mod argon2_hasher;
pub mod grpc;
pub mod mailer;
pub mod postgres;
