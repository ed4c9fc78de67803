//! Who consumes what: the durable queues of the shop and the events bound to each.
//!
//! This table is the code form of the event table in the design. Every service declares all
//! of it at startup (declaring is idempotent), so a producer that starts before its consumers
//! never publishes into the void: the consumer's queue exists from the first service up.
//! The gateway's cache-invalidation queue is not here: it is exclusive to each gateway replica
//! and lives only as long as the replica.

use crate::Event;
use crate::order::{OrderCancelled, OrderConfirmed, OrderDelivered, OrderShipped};
use crate::payment::PaymentRefunded;
use crate::user::UserRegistered;

/// A durable consumer queue and the event types routed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription {
    /// `<service>.<purpose>`; also the consumer's name in its inbox.
    pub queue: &'static str,
    pub event_types: &'static [&'static str],
}

/// Inventory: a confirmed order sells its reservation; a cancelled one restocks.
pub const INVENTORY_ORDER_EVENTS: Subscription = Subscription {
    queue: "inventory.order-events",
    event_types: &[OrderConfirmed::TYPE, OrderCancelled::TYPE],
};

/// Payment: a cancelled order is refunded when it was paid.
pub const PAYMENT_ORDER_CANCELLED: Subscription = Subscription {
    queue: "payment.order-cancelled",
    event_types: &[OrderCancelled::TYPE],
};

/// Order: a refund is recorded in the order's timeline.
pub const ORDER_PAYMENT_REFUNDED: Subscription = Subscription {
    queue: "order.payment-refunded",
    event_types: &[PaymentRefunded::TYPE],
};

/// User: the customer is mailed on signing up and as their order moves (the user service
/// holds their address).
pub const USER_MAILS: Subscription = Subscription {
    queue: "user.mails",
    event_types: &[
        UserRegistered::TYPE,
        OrderConfirmed::TYPE,
        OrderShipped::TYPE,
        OrderDelivered::TYPE,
        OrderCancelled::TYPE,
        PaymentRefunded::TYPE,
    ],
};

// xtask:new-service:subscriptions

/// Every durable subscription of the shop.
pub const ALL: &[Subscription] = &[
    INVENTORY_ORDER_EVENTS,
    PAYMENT_ORDER_CANCELLED,
    ORDER_PAYMENT_REFUNDED,
    USER_MAILS,
    // xtask:new-service:all-subscriptions
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_are_unique_and_follow_service_dot_purpose() {
        let mut names: Vec<_> = ALL.iter().map(|s| s.queue).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for name in names {
            let (service, purpose) = name.split_once('.').unwrap();
            assert!(!service.is_empty() && !purpose.is_empty(), "{name}");
        }
    }
}
