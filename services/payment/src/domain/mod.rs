//! Domain of the payment service, free of frameworks.
