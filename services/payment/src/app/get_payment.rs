//! GetPayment: read an order's payment; its owner or an admin may.

use shop_auth::Caller;
use shop_platform::validation::Violations;
use uuid::Uuid;

use super::{PaymentError, Payments};
use crate::domain::Payment;

impl Payments {
    /// Someone else's payment is NOT_FOUND, not PERMISSION_DENIED, so ids cannot be probed.
    pub async fn get_payment(
        &self,
        caller: &Caller,
        order_id: &str,
    ) -> Result<Payment, PaymentError> {
        let mut violations = Violations::new();
        let Some(order_id) = violations.check(
            "order_id",
            Uuid::parse_str(order_id).map_err(|_| "must be a UUID"),
        ) else {
            return Err(violations.into());
        };
        let payment = self
            .payments
            .get(order_id)
            .await?
            .ok_or(PaymentError::NotFound)?;
        if caller.may_access(payment.user_id) {
            Ok(payment)
        } else {
            Err(PaymentError::NotFound)
        }
    }
}
