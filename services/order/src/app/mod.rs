//! Use cases of the order service and the ports they depend on.
