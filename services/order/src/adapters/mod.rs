//! Adapters of the order service: the gRPC server and the stores and peers it talks to.
