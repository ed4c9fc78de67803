//! The backends as the handlers use them: one typed method per operation. Each method decides,
//! once, how its call is made: whether it may be retried (reads), how long it may take (the
//! route's deadline) and whose token it carries (the person's, for what acts for them). The
//! resilience itself (breakers, retries, budgets) is [`super::upstream`]'s.

use std::time::Duration;

use shop_proto::inventory::v1 as inventory;
use shop_proto::order::v1 as order;
use shop_proto::user::v1 as user;
use tonic::{Response, Status};

use super::upstream::{Call, Upstream, UpstreamError, Upstreams, request};

/// How long each kind of call waits for the backends.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub read: Duration,
    pub write: Duration,
    pub place_order: Duration,
}

/// Every backend operation the gateway uses.
#[derive(Debug, Clone)]
pub struct Backends {
    upstreams: Upstreams,
    deadlines: Deadlines,
}

/// One call: `message` sent with `send`, as `kind`, within `deadline`, carrying `token`.
async fn unary<C, T, R, F, Fut>(
    upstream: &Upstream<C>,
    kind: Call,
    deadline: Duration,
    token: Option<&str>,
    message: T,
    send: F,
) -> Result<R, UpstreamError>
where
    C: Clone,
    T: Clone,
    F: Fn(C, tonic::Request<T>) -> Fut,
    Fut: Future<Output = Result<Response<R>, Status>>,
{
    upstream
        .call(kind, deadline, |client| {
            send(client, request(message.clone(), deadline, token))
        })
        .await
}

impl Backends {
    pub fn new(upstreams: Upstreams, deadlines: Deadlines) -> Self {
        Self {
            upstreams,
            deadlines,
        }
    }

    // The user service: accounts and sessions.

    pub async fn register(
        &self,
        message: user::RegisterRequest,
    ) -> Result<user::RegisterResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.user, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            None,
            message,
            |mut c, r| async move { c.register(r).await },
        )
        .await
    }

    pub async fn login(
        &self,
        message: user::LoginRequest,
    ) -> Result<user::LoginResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.user, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            None,
            message,
            |mut c, r| async move { c.login(r).await },
        )
        .await
    }

    pub async fn refresh(
        &self,
        message: user::RefreshRequest,
    ) -> Result<user::RefreshResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.user, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            None,
            message,
            |mut c, r| async move { c.refresh(r).await },
        )
        .await
    }

    pub async fn logout(&self, token: &str) -> Result<user::LogoutResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.user, self.deadlines.write);
        let message = user::LogoutRequest {};
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.logout(r).await },
        )
        .await
    }

    pub async fn get_user(
        &self,
        token: &str,
        user_id: String,
    ) -> Result<user::GetUserResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.user, self.deadlines.read);
        let message = user::GetUserRequest { user_id };
        unary(
            upstream,
            Call::Read,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.get_user(r).await },
        )
        .await
    }

    pub async fn jwks(&self) -> Result<user::GetJwksResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.user, self.deadlines.read);
        let message = user::GetJwksRequest {};
        unary(
            upstream,
            Call::Read,
            deadline,
            None,
            message,
            |mut c, r| async move { c.get_jwks(r).await },
        )
        .await
    }

    // The inventory service: the catalog.

    /// The catalog; `token` is an admin's, for a listing with products taken off sale.
    pub async fn list_products(
        &self,
        token: Option<&str>,
        message: inventory::ListProductsRequest,
    ) -> Result<inventory::ListProductsResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.inventory, self.deadlines.read);
        unary(
            upstream,
            Call::Read,
            deadline,
            token,
            message,
            |mut c, r| async move { c.list_products(r).await },
        )
        .await
    }

    pub async fn get_product(
        &self,
        product_id: String,
    ) -> Result<inventory::GetProductResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.inventory, self.deadlines.read);
        let message = inventory::GetProductRequest { product_id };
        unary(
            upstream,
            Call::Read,
            deadline,
            None,
            message,
            |mut c, r| async move { c.get_product(r).await },
        )
        .await
    }

    pub async fn create_product(
        &self,
        token: &str,
        message: inventory::CreateProductRequest,
    ) -> Result<inventory::CreateProductResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.inventory, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.create_product(r).await },
        )
        .await
    }

    pub async fn update_product(
        &self,
        token: &str,
        message: inventory::UpdateProductRequest,
    ) -> Result<inventory::UpdateProductResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.inventory, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.update_product(r).await },
        )
        .await
    }

    pub async fn adjust_stock(
        &self,
        token: &str,
        message: inventory::AdjustStockRequest,
    ) -> Result<inventory::AdjustStockResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.inventory, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.adjust_stock(r).await },
        )
        .await
    }

    // The order service: checkout and order history.

    pub async fn place_order(
        &self,
        token: &str,
        message: order::PlaceOrderRequest,
    ) -> Result<order::PlaceOrderResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.place_order);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.place_order(r).await },
        )
        .await
    }

    pub async fn list_orders(
        &self,
        token: &str,
        message: order::ListOrdersRequest,
    ) -> Result<order::ListOrdersResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.read);
        unary(
            upstream,
            Call::Read,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.list_orders(r).await },
        )
        .await
    }

    pub async fn get_order(
        &self,
        token: &str,
        order_id: String,
    ) -> Result<order::GetOrderResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.read);
        let message = order::GetOrderRequest { order_id };
        unary(
            upstream,
            Call::Read,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.get_order(r).await },
        )
        .await
    }

    pub async fn cancel_order(
        &self,
        token: &str,
        message: order::CancelOrderRequest,
    ) -> Result<order::CancelOrderResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.cancel_order(r).await },
        )
        .await
    }

    // The order service's carts: each call is the caller's own cart.

    pub async fn get_cart(&self, token: &str) -> Result<order::GetCartResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.read);
        unary(
            upstream,
            Call::Read,
            deadline,
            Some(token),
            order::GetCartRequest {},
            |mut c, r| async move { c.get_cart(r).await },
        )
        .await
    }

    pub async fn set_cart_item(
        &self,
        token: &str,
        message: order::SetCartItemRequest,
    ) -> Result<order::SetCartItemResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.set_cart_item(r).await },
        )
        .await
    }

    pub async fn clear_cart(&self, token: &str) -> Result<order::ClearCartResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            order::ClearCartRequest {},
            |mut c, r| async move { c.clear_cart(r).await },
        )
        .await
    }

    pub async fn merge_cart(
        &self,
        token: &str,
        message: order::MergeCartRequest,
    ) -> Result<order::MergeCartResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.merge_cart(r).await },
        )
        .await
    }

    pub async fn get_shipping_options(
        &self,
        token: &str,
        message: order::GetShippingOptionsRequest,
    ) -> Result<order::GetShippingOptionsResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.read);
        unary(
            upstream,
            Call::Read,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.get_shipping_options(r).await },
        )
        .await
    }

    pub async fn ship_order(
        &self,
        token: &str,
        message: order::ShipOrderRequest,
    ) -> Result<order::ShipOrderResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.ship_order(r).await },
        )
        .await
    }

    pub async fn deliver_order(
        &self,
        token: &str,
        message: order::DeliverOrderRequest,
    ) -> Result<order::DeliverOrderResponse, UpstreamError> {
        let (upstream, deadline) = (&self.upstreams.order, self.deadlines.write);
        unary(
            upstream,
            Call::Write,
            deadline,
            Some(token),
            message,
            |mut c, r| async move { c.deliver_order(r).await },
        )
        .await
    }
}
