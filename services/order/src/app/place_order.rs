//! PlaceOrder: store the order once per idempotency key, then run its saga for as long as the
//! request may take; whatever is left, the recovery worker finishes.

use std::time::Instant;

use chrono::Utc;
use shop_auth::Caller;
use shop_kernel::LeaseToken;
use uuid::Uuid;

use super::ports::{Created, Lease, NewOrder};
use super::{OrderError, OrderView, Orders};
use crate::domain::{Order, OrderRequest, TimelineEntry, fingerprint};

const POLL: std::time::Duration = std::time::Duration::from_millis(25);

impl Orders {
    #[tracing::instrument(name = "orders.place", skip_all, fields(order_id), err(Debug))]
    pub async fn place_order(
        &self,
        caller: &Caller,
        request: OrderRequest,
    ) -> Result<OrderView, OrderError> {
        let now = Utc::now();
        let print = fingerprint(&request);
        let deadline =
            now + chrono::Duration::from_std(self.policy.deadline).map_err(anyhow::Error::from)?;
        let lines: Vec<(Uuid, i64)> = request
            .lines
            .iter()
            .map(|l| (l.product_id, l.quantity))
            .collect();
        let (order, placed) = Order::place(Uuid::now_v7(), caller.user_id(), &lines, deadline, now);
        let lease = Lease {
            token: LeaseToken::new(),
            until: now
                + chrono::Duration::from_std(self.policy.lease).map_err(anyhow::Error::from)?,
        };
        let created = self
            .store
            .create(NewOrder {
                order,
                placed,
                idempotency_key: request.idempotency_key,
                fingerprint: print.clone(),
                card_token: request.card_token,
                lease,
            })
            .await?;
        match created {
            Created::New(order) => {
                tracing::Span::current().record("order_id", tracing::field::display(order.id()));
                metrics::counter!("orders_placed_total").increment(1);
                let order = self
                    .drive(order.id(), lease.token, self.policy.request_budget)
                    .await?;
                self.view(order).await
            }
            Created::Existing { order, fingerprint } => {
                if fingerprint != print {
                    return Err(OrderError::KeyReused);
                }
                tracing::Span::current().record("order_id", tracing::field::display(order.id()));
                let order = self.wait_until_settled(order.id()).await?;
                if order.status().is_terminal() {
                    self.view(order).await
                } else {
                    Err(OrderError::InFlight)
                }
            }
        }
    }

    /// Waits, within `duplicate_wait`, for another driver to finish an order's saga.
    async fn wait_until_settled(&self, id: Uuid) -> Result<Order, OrderError> {
        let deadline = Instant::now() + self.policy.duplicate_wait;
        loop {
            let order = self.store.get(id).await?.ok_or(OrderError::NotFound)?;
            if order.status().is_terminal() || Instant::now() >= deadline {
                return Ok(order);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub(super) async fn view(&self, order: Order) -> Result<OrderView, OrderError> {
        let timeline: Vec<TimelineEntry> = self.store.timeline(order.id()).await?;
        Ok(OrderView { order, timeline })
    }
}
