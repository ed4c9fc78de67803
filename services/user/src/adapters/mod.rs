//! Adapters of the user service: the gRPC server and the stores and peers it talks to.
