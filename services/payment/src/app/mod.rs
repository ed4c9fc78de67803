//! Use cases of the payment service and the ports they depend on.
