//! The gRPC contracts of Ferris Shop, generated from `proto/` at build time.
//!
//! Each bounded context has its own versioned module (`shop::user::v1`, ...),
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
pub mod shop {
    pub mod common {
        pub mod v1 {
            tonic::include_proto!("shop.common.v1");
        }
    }
    pub mod user {
        pub mod v1 {
            tonic::include_proto!("shop.user.v1");
        }
    }
    pub mod inventory {
        pub mod v1 {
            tonic::include_proto!("shop.inventory.v1");
        }
    }
    pub mod order {
        pub mod v1 {
            tonic::include_proto!("shop.order.v1");
        }
    }
    pub mod payment {
        pub mod v1 {
            tonic::include_proto!("shop.payment.v1");
        }
    }
}

pub use shop::{common, inventory, order, payment, user};

/// Conversions between protobuf well-known types and the types the services use.
pub mod convert {
    use chrono::{DateTime, Utc};

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
