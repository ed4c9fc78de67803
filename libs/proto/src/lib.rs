//! The gRPC contracts of Ferris Shop, generated from `proto/` at build time.
//!
//! Each bounded context has its own versioned module (`user::v1`, ...),
//! mirroring the protobuf packages. [`FILE_DESCRIPTOR_SET`] feeds the gRPC
//! reflection service that every server registers.

/// Encoded `google.protobuf.FileDescriptorSet` of every shop contract.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/shop_descriptor.bin"));

/// The protobuf package tree. Generated code is exempt from our lints.
#[allow(
    missing_debug_implementations,
    unused_qualifications,
    rust_2018_idioms,
    clippy::all,
    clippy::pedantic
)]
pub mod packages {
    include!(concat!(env!("OUT_DIR"), "/packages.rs"));
}

pub use packages::*;

/// Conversions between protobuf messages and the types the services use, each written once.
pub mod convert {
    use chrono::{DateTime, Utc};
    use shop_kernel::{Money, MoneyError};

    use crate::common::v1::Money as PbMoney;

    impl From<&Money> for PbMoney {
        fn from(money: &Money) -> Self {
            Self {
                amount_minor: money.amount_minor,
                currency: money.currency.clone(),
            }
        }
    }

    /// The shop's money from its protobuf form, if it is valid money.
    pub fn money(money: &PbMoney) -> Result<Money, MoneyError> {
        Money::new(money.amount_minor, &money.currency)
    }

    /// A `google.protobuf.Timestamp` for `time`.
    pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: time.timestamp(),
            // Always below 10^9, so it fits.
            nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
        }
    }

    /// The instant of a `google.protobuf.Timestamp`, if it is a valid one.
    pub fn datetime(timestamp: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(timestamp.seconds, u32::try_from(timestamp.nanos).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::FILE_DESCRIPTOR_SET;

    #[test]
    fn money_round_trips_and_invalid_money_is_refused() {
        let price = shop_kernel::Money::new(1299, "EUR").unwrap();
        let wire = crate::common::v1::Money::from(&price);
        assert_eq!(super::convert::money(&wire), Ok(price));
        let negative = crate::common::v1::Money {
            amount_minor: -1,
            currency: "EUR".to_owned(),
        };
        assert!(super::convert::money(&negative).is_err());
    }

    #[test]
    fn timestamps_round_trip() {
        let now = chrono::Utc::now();
        assert_eq!(
            super::convert::datetime(&super::convert::timestamp(now)),
            Some(now)
        );
    }

    #[test]
    fn the_descriptor_set_holds_every_shop_service() {
        let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
        let services: Vec<String> = set
            .file
            .iter()
            .flat_map(|file| {
                file.service
                    .iter()
                    .map(move |svc| format!("{}.{}", file.package(), svc.name()))
            })
            .collect();
        for expected in [
            "shop.user.v1.UserService",
            "shop.inventory.v1.InventoryService",
            "shop.order.v1.OrderService",
            "shop.payment.v1.PaymentService",
        ] {
            assert!(
                services.iter().any(|s| s == expected),
                "{expected} missing from {services:?}"
            );
        }
    }
}
