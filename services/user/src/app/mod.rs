//! Use cases of the user service and the ports they depend on.
