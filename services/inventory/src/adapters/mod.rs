//! Adapters of the inventory service: the gRPC server and the stores and peers it talks to.
