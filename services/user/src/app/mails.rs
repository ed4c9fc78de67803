//! The customer's mail: what each event tells them, addressed with what only this service
//! knows (their address and name). Sending, once per event, is the consumer's (the inbound
//! adapter holds the inbox).

use std::fmt::Write as _;
use std::sync::Arc;

use shop_events::order::{OrderCancelled, OrderConfirmed, OrderDelivered, OrderShipped};
use shop_events::payment::PaymentRefunded;
use shop_events::user::UserRegistered;
use uuid::Uuid;

use super::ports::{Mail, UserStore};

/// What happened that the customer hears about.
#[derive(Debug, Clone)]
pub enum Notice {
    Registered(UserRegistered),
    Confirmed(Box<OrderConfirmed>),
    Shipped(OrderShipped),
    Delivered(OrderDelivered),
    Cancelled(OrderCancelled),
    Refunded(PaymentRefunded),
}

impl Notice {
    fn user_id(&self) -> Option<Uuid> {
        match self {
            Self::Registered(e) => Some(e.user_id),
            Self::Confirmed(e) => Some(e.user_id),
            Self::Shipped(e) => Some(e.user_id),
            Self::Delivered(e) => Some(e.user_id),
            Self::Cancelled(e) => Some(e.user_id),
            Self::Refunded(e) => e.user_id,
        }
    }
}

/// Composes mails.
#[derive(Clone)]
pub struct Mails {
    users: Arc<dyn UserStore>,
}

impl std::fmt::Debug for Mails {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mails").finish_non_exhaustive()
    }
}

impl Mails {
    pub fn new(users: Arc<dyn UserStore>) -> Self {
        Self { users }
    }

    /// The mail `notice` (carried by message `id`) makes, or `None` when there is no one to
    /// write to (an account this service does not know, a refund that names no customer).
    pub async fn compose(&self, id: Uuid, notice: &Notice) -> anyhow::Result<Option<Mail>> {
        let Some(user_id) = notice.user_id() else {
            return Ok(None);
        };
        let Some(user) = self.users.by_id(user_id).await? else {
            return Ok(None);
        };
        let (subject, text) = letter(&user.name, notice);
        Ok(Some(Mail {
            id,
            to_name: user.name,
            to_email: user.email.as_str().to_owned(),
            subject,
            text,
        }))
    }
}

const SIGNATURE: &str = "\nThank you for shopping with us,\nFerris Shop\n";

/// The subject and text of a notice to `name`.
fn letter(name: &str, notice: &Notice) -> (String, String) {
    let mut text = format!("Hello {name},\n\n");
    let subject = match notice {
        Notice::Registered(_) => {
            text.push_str(
                "welcome to Ferris Shop! Your account is ready: sign in to fill your cart, \
                 and it will be waiting for you on every device.\n",
            );
            "Welcome to Ferris Shop".to_owned()
        }
        Notice::Confirmed(order) => {
            confirmation(&mut text, order);
            format!("Your order {} is confirmed", order.order_id)
        }
        Notice::Shipped(order) => {
            let _ = writeln!(
                text,
                "your order {} is on its way with {}.\nTracking number: {}",
                order.order_id, order.carrier, order.tracking_number
            );
            format!("Your order {} has shipped", order.order_id)
        }
        Notice::Delivered(order) => {
            let _ = writeln!(
                text,
                "your order {} has been delivered. We hope you enjoy it.",
                order.order_id
            );
            format!("Your order {} was delivered", order.order_id)
        }
        Notice::Cancelled(order) => {
            let _ = writeln!(
                text,
                "your order {} is cancelled ({}). If you paid for it, the money is on its way \
                 back to you; we will write again when it is refunded.",
                order.order_id, order.reason
            );
            format!("Your order {} is cancelled", order.order_id)
        }
        Notice::Refunded(refund) => {
            let _ = writeln!(
                text,
                "we refunded {} for your order {}. It reaches your card within a few days.",
                refund.amount, refund.order_id
            );
            format!("Your refund for order {}", refund.order_id)
        }
    };
    text.push_str(SIGNATURE);
    (subject, text)
}

fn confirmation(text: &mut String, order: &OrderConfirmed) {
    let _ = writeln!(
        text,
        "thank you for your order {}. It is paid and confirmed.\n",
        order.order_id
    );
    let Some(details) = &order.details else {
        let _ = writeln!(text, "Total: {}", order.total);
        return;
    };
    for line in &details.lines {
        let _ = writeln!(
            text,
            "  {} x {}  {} each",
            line.quantity, line.name, line.unit_price
        );
    }
    let shipping = if details.shipping.amount_minor == 0 {
        "free".to_owned()
    } else {
        details.shipping.to_string()
    };
    let _ = writeln!(text, "\nSubtotal: {}", details.subtotal);
    let _ = writeln!(text, "Shipping ({}): {shipping}", details.shipping_method);
    let _ = writeln!(text, "Total: {}\n", order.total);
    let a = &details.shipping_address;
    let _ = writeln!(text, "It ships to:\n  {}\n  {}", a.name, a.line1);
    if !a.line2.is_empty() {
        let _ = writeln!(text, "  {}", a.line2);
    }
    let _ = writeln!(text, "  {} {}\n  {}", a.postal_code, a.city, a.country);
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use shop_events::order::{Address, NamedLine, OrderDetails};

    use super::*;
    use shop_events::Money;

    fn eur(minor: i64) -> Money {
        Money::new(minor, "EUR").unwrap()
    }

    #[test]
    fn a_confirmation_lists_the_lines_the_sums_and_the_address() {
        let order = OrderConfirmed {
            order_id: Uuid::nil(),
            user_id: Uuid::nil(),
            lines: Vec::new(),
            total: eur(3093),
            confirmed_at: Utc::now(),
            details: Some(OrderDetails {
                lines: vec![NamedLine {
                    name: "Crab Mug".to_owned(),
                    quantity: 2,
                    unit_price: eur(1299),
                }],
                subtotal: eur(2598),
                shipping: eur(495),
                shipping_method: "standard".to_owned(),
                shipping_address: Address {
                    name: "Ann Reader".to_owned(),
                    line1: "1 Crab Lane".to_owned(),
                    line2: String::new(),
                    city: "Dublin".to_owned(),
                    postal_code: "D02 X285".to_owned(),
                    country: "IE".to_owned(),
                },
            }),
        };
        let (subject, text) = letter("Ann", &Notice::Confirmed(Box::new(order)));
        assert!(subject.contains("is confirmed"));
        for expected in [
            "Hello Ann,",
            "2 x Crab Mug  12.99 EUR each",
            "Subtotal: 25.98 EUR",
            "Shipping (standard): 4.95 EUR",
            "Total: 30.93 EUR",
            "D02 X285 Dublin",
        ] {
            assert!(
                text.contains(expected),
                "{expected:?} missing from:\n{text}"
            );
        }
    }
}
