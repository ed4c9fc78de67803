//! Domain of the order service, free of frameworks.
