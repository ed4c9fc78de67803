//! Adapters of the payment service: the gRPC server and the stores and peers it talks to.
