//! Service defaults: what every Ferris Shop binary does the same way, in one place.
//!
//! A service's `startup.rs` reads as: load [`config`], open the [`postgres`] pool, build a
//! [`server::ServiceHost`], register its gRPC services and workers, run. Telemetry, health,
//! reflection, metrics and graceful shutdown come with the host.

pub mod access;
pub mod admin;
pub mod cli;
pub mod config;
pub mod flags;
pub mod grpc;
pub mod grpc_client;
pub mod grpc_status;
pub mod http;
pub mod postgres;
pub mod problem;
pub mod redis;
pub mod retry;
pub mod server;
pub mod service;
pub mod services;
pub mod shutdown;
pub mod telemetry;
pub mod validation;

pub use server::{ConnectionLimits, GrpcService, ServiceHost, ShutdownTrigger};
