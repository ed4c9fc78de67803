//! Use cases of the inventory service and the ports they depend on.
