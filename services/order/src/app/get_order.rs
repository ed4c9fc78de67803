//! GetOrder: an order with its timeline; its owner or an admin may read it.

use shop_auth::Caller;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::{OrderError, OrderView, Orders};

impl Orders {
    /// Someone else's order is NOT_FOUND, not PERMISSION_DENIED, so ids cannot be probed.
    pub async fn get_order(
        &self,
        caller: &Caller,
        order_id: &str,
    ) -> Result<OrderView, OrderError> {
        let mut violations = Violations::new();
        let Some(id) = violations.check(
            "order_id",
            Uuid::parse_str(order_id).map_err(|_| "must be a UUID"),
        ) else {
            return Err(violations.into());
        };
        let order = self
            .store
            .get(id)
            .await?
            .filter(|o| caller.may_access(o.user_id()))
            .ok_or(OrderError::NotFound)?;
        self.view(order).await
    }
}
