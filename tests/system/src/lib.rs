//! Support for system tests: start the shop's real binaries as processes and talk to them.
//!
//! The binaries come from the same target directory as the test itself; `cargo test
//! --workspace` (or nextest) builds them because every service has integration tests.

mod process;

pub use process::{ServiceProcess, binary_path};
