//! Support for system tests: start the shop's real binaries as processes and talk to them.
//!
//! The binaries come from the same target directory as the test itself (`cargo test
//! --workspace`, or nextest, builds them because every service has integration tests), or from
//! `SHOP_SYSTEM_BIN_DIR` (`scripts/system-test.sh` points it at the release build).

pub mod ledger;
mod otlp;
mod process;
mod shop;

pub use ledger::{Ledger, LedgerSources};
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use process::{BIN_DIR_ENV, ServiceProcess, binary_path};
pub use shop::{Env, FaultPoints, Options, Service, SystemShop};

/// A delivery address in Dublin (standard shipping: 4.95 EUR, free from 50.00 EUR).
pub fn dublin() -> shop_client::ShippingAddress {
    shop_client::ShippingAddress {
        name: "Ann Reader".to_owned(),
        line1: "1 Crab Lane".to_owned(),
        line2: String::new(),
        city: "Dublin".to_owned(),
        postal_code: "D02 X285".to_owned(),
        country: "IE".to_owned(),
    }
}
