//! PlaceOrder: check what the customer was shown (the cart's prices, the shipping quote), store
//! the order once per idempotency key, then run its saga for as long as the request may take;
//! whatever is left, the recovery worker finishes.

use std::time::Instant;

use chrono::Utc;
use shop_auth::Caller;
use shop_kernel::LeaseToken;
use tracing::Instrument as _;
use uuid::Uuid;

use shop_kernel::Money;
use shop_platform::validation::Violations;

use super::ports::{Created, Lease, NewOrder};
use super::{OrderError, OrderView, Orders};
use crate::domain::{
    Cart, Order, OrderRequest, SHOP_CURRENCY, Shipping, TimelineEntry, fingerprint, quote,
};

const POLL: std::time::Duration = std::time::Duration::from_millis(25);

impl Orders {
    #[tracing::instrument(name = "orders.place", skip_all, fields(order_id), err(Debug))]
    pub async fn place_order(
        &self,
        caller: &Caller,
        request: OrderRequest,
    ) -> Result<OrderView, OrderError> {
        let print = fingerprint(&request);
        // A retry is answered from the order it placed, before the cart (which that order may
        // have emptied) is read again.
        if let Some(existing) = self
            .store
            .find_by_key(caller.user_id(), &request.idempotency_key)
            .await?
        {
            return self.answer_existing(existing, &print).await;
        }
        if !self.carts.offers(request.method).await {
            return Err(Violations::single(
                "shipping_method",
                "express shipping is not offered right now: choose standard",
            )
            .into());
        }
        let from_cart = request.lines.is_empty();
        let (lines, subtotal) = if from_cart {
            self.cart_to_check_out(caller.user_id()).await?
        } else {
            let lines: Vec<(Uuid, i64)> = request
                .lines
                .iter()
                .map(|l| (l.product_id, l.quantity))
                .collect();
            // Unknown products are rejected by the saga, as ever; the quote counts the rest.
            let priced = self.carts.price_lines(&lines).await?;
            (lines, subtotal_of(&priced)?)
        };
        let shipping = quote(&request.address.country, request.method, &subtotal)
            .map_err(|err| OrderError::Unexpected(err.into()))?;
        let total = subtotal
            .plus(&shipping.price)
            .map_err(|err| OrderError::Unexpected(err.into()))?;
        if let Some(expected) = &request.expected_total
            && *expected != total
        {
            return Err(OrderError::PriceChanged(format!(
                "the total is now {total} ({subtotal} and {} shipping), not {expected}: \
                 review the order and place it again",
                shipping.price
            )));
        }

        let now = Utc::now();
        let deadline =
            now + chrono::Duration::from_std(self.policy.deadline).map_err(anyhow::Error::from)?;
        let (order, placed) = Order::place(Uuid::now_v7(), caller.user_id(), &lines, deadline, now);
        let order = order.with_shipping(
            Shipping {
                address: request.address,
                method: request.method,
                price: shipping.price,
            },
            subtotal,
        );
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
                from_cart,
            })
            .await?;
        match created {
            Created::New(order) => {
                tracing::Span::current().record("order_id", tracing::field::display(order.id()));
                metrics::counter!("orders_placed_total").increment(1);
                let order = self.drive_detached(order, lease.token).await?;
                self.view(order).await
            }
            Created::Existing { order, fingerprint } => {
                self.answer_existing((order, fingerprint), &print).await
            }
        }
    }

    /// Drives a new order's saga for the request's budget in a task of its own. A caller that
    /// goes away (the gateway's deadline passed, or it died) drops only the wait: the saga
    /// goes on to the end of the budget and the lease is released, so the order is finished
    /// here or resumed by the recovery worker at once, not after the lease expires.
    /// It starts from the order as stored, without reading it back.
    async fn drive_detached(&self, order: Order, token: LeaseToken) -> Result<Order, OrderError> {
        let this = self.clone();
        let task = async move {
            let budget = this.policy.request_budget;
            this.drive(order.id(), Some(order), token, budget).await
        };
        tokio::spawn(task.in_current_span())
            .await
            .map_err(|err| OrderError::Unexpected(anyhow::anyhow!("driving the saga: {err}")))?
    }

    /// The order an idempotency key placed before, when this request is the same one.
    async fn answer_existing(
        &self,
        (order, fingerprint): (Order, Vec<u8>),
        print: &[u8],
    ) -> Result<OrderView, OrderError> {
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

    /// The customer's cart as lines to order and their subtotal, when every line may be
    /// ordered at the price the customer last saw.
    async fn cart_to_check_out(&self, user: Uuid) -> Result<(Vec<(Uuid, i64)>, Money), OrderError> {
        let cart = self.carts.get(user).await?;
        if cart.lines.is_empty() {
            return Err(Violations::single(
                "items",
                "is empty and so is the cart: add products to the cart, or list them here",
            )
            .into());
        }
        if let Some(line) = cart.lines.iter().find(|l| !l.active) {
            return Err(OrderError::CartNotOrderable(format!(
                "product {} ({}) is no longer sold: remove it from the cart",
                line.product_id, line.name
            )));
        }
        if let Some(line) = cart.lines.iter().find(|l| l.price_changed) {
            return Err(OrderError::PriceChanged(format!(
                "the price of {} changed from {} to {}: review the cart (setting the line \
                 accepts the new price) and place the order again",
                line.name, line.seen_price, line.unit_price
            )));
        }
        let lines = cart
            .lines
            .iter()
            .map(|l| (l.product_id, l.quantity))
            .collect();
        Ok((lines, subtotal_of(&cart)?))
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

/// A priced cart's subtotal; zero in the shop's currency when nothing in it is sold.
fn subtotal_of(cart: &Cart) -> Result<Money, OrderError> {
    match &cart.subtotal {
        Some(subtotal) => Ok(subtotal.clone()),
        None => Money::zero(SHOP_CURRENCY).map_err(|err| OrderError::Unexpected(err.into())),
    }
}
