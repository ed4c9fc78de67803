//! Field-level validation errors: the kernel's, here too for adapters that only know the
//! platform.

pub use shop_kernel::validation::{Violation, Violations};
