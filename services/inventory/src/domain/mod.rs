//! Domain of the inventory service, free of frameworks.
