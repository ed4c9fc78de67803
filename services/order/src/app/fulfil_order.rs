//! Fulfilment (admins): a confirmed order is shipped with a carrier and a tracking number,
//! then delivered. Each step is one transition written with its event (`order.shipped`,
//! `order.delivered`); repeating a step that already happened returns the order.

use shop_auth::Caller;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::events::{order_delivered, order_shipped};
use super::ports::{Change, OutgoingEvent};
use super::{OrderError, OrderView, Orders};
use crate::domain::{Order, OrderStatus, TimelineEntry, Tracking};

const MAX_CARRIER: usize = 50;
const MAX_TRACKING: usize = 64;

/// A required, bounded, printable text field.
fn bounded(violations: &mut Violations, field: &str, value: &str, max: usize) -> String {
    // The bound is on what was sent, as the API document states it, not on what is kept.
    let too_long = value.chars().count() > max;
    let value = value.trim();
    if value.is_empty() {
        violations.add(field, "is required");
    } else if too_long {
        violations.add(field, format!("must be at most {max} characters"));
    } else if violations.text(field, value) {
        return value.to_owned();
    }
    String::new()
}

impl Orders {
    #[tracing::instrument(name = "orders.ship", skip_all, err(Debug))]
    pub async fn ship_order(
        &self,
        caller: &Caller,
        order_id: &str,
        carrier: &str,
        tracking_number: &str,
    ) -> Result<OrderView, OrderError> {
        let mut violations = Violations::new();
        let id = parse_id(&mut violations, order_id);
        let tracking = Tracking {
            carrier: bounded(&mut violations, "carrier", carrier, MAX_CARRIER),
            number: bounded(
                &mut violations,
                "tracking_number",
                tracking_number,
                MAX_TRACKING,
            ),
        };
        violations.into_result()?;
        let mut order = self.admins_order(caller, id).await?;
        match order.status() {
            OrderStatus::Shipped | OrderStatus::Delivered
                if order.tracking() == Some(&tracking) =>
            {
                return self.view(order).await;
            }
            OrderStatus::Confirmed => {}
            other => {
                return Err(OrderError::NotFulfillable {
                    reason: "ORDER_NOT_SHIPPABLE",
                    message: format!(
                        "only a confirmed order can be shipped; this one is {}",
                        other.as_str()
                    ),
                });
            }
        }
        let timeline = order
            .ship(tracking, chrono::Utc::now())
            .map_err(|err| OrderError::Unexpected(err.into()))?;
        let event = OutgoingEvent::Shipped(order_shipped(&order)?);
        self.fulfil(OrderStatus::Confirmed, order, timeline, event)
            .await
    }

    #[tracing::instrument(name = "orders.deliver", skip_all, err(Debug))]
    pub async fn deliver_order(
        &self,
        caller: &Caller,
        order_id: &str,
    ) -> Result<OrderView, OrderError> {
        let mut violations = Violations::new();
        let id = parse_id(&mut violations, order_id);
        violations.into_result()?;
        let mut order = self.admins_order(caller, id).await?;
        match order.status() {
            OrderStatus::Delivered => return self.view(order).await,
            OrderStatus::Shipped => {}
            other => {
                return Err(OrderError::NotFulfillable {
                    reason: "ORDER_NOT_DELIVERABLE",
                    message: format!(
                        "only a shipped order can be delivered; this one is {}",
                        other.as_str()
                    ),
                });
            }
        }
        let timeline = order
            .deliver(chrono::Utc::now())
            .map_err(|err| OrderError::Unexpected(err.into()))?;
        let event = OutgoingEvent::Delivered(order_delivered(&order));
        self.fulfil(OrderStatus::Shipped, order, timeline, event)
            .await
    }

    /// The order, for an admin (the access table admits only admins; this is the use case's
    /// own check).
    async fn admins_order(&self, caller: &Caller, id: Uuid) -> Result<Order, OrderError> {
        if !caller.is_admin() {
            return Err(OrderError::Forbidden);
        }
        self.store.get(id).await?.ok_or(OrderError::NotFound)
    }

    /// Stores a fulfilment step; a concurrent one that won is read back.
    async fn fulfil(
        &self,
        from: OrderStatus,
        order: Order,
        timeline: Vec<TimelineEntry>,
        event: OutgoingEvent,
    ) -> Result<OrderView, OrderError> {
        let id = order.id();
        let status = order.status();
        let applied = self
            .store
            .apply(Change {
                from,
                from_compensation: None,
                order,
                timeline,
                event: Some(event),
                lease: None,
            })
            .await?;
        if applied {
            metrics::counter!("orders_fulfilled_total", "step" => status.as_str()).increment(1);
        }
        let order = self.store.get(id).await?.ok_or(OrderError::NotFound)?;
        self.view(order).await
    }
}

fn parse_id(violations: &mut Violations, order_id: &str) -> Uuid {
    violations
        .check(
            "order_id",
            Uuid::parse_str(order_id).map_err(|_| "must be a UUID"),
        )
        .unwrap_or_default()
}
