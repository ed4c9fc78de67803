//! Event consumers of the user service (inbound adapter): the customer's mail. Each event is
//! composed into a mail by the use case and sent once per message through the inbox; an SMTP
//! failure rolls the inbox entry back, so the message is retried and, after the consumer's
//! attempts, dead-lettered.

use std::sync::Arc;

use async_trait::async_trait;
use shop_events::Envelope;
use shop_events::order::{OrderCancelled, OrderConfirmed, OrderDelivered, OrderShipped};
use shop_events::payment::PaymentRefunded;
use shop_events::user::UserRegistered;
use shop_messaging::{EventHandler, Handled, InboxEntry, apply_once};
use sqlx::PgPool;

use crate::app::ports::Mailer;
use crate::app::{Mails, Notice};

/// Mails the customer about `user.registered`, `order.confirmed`, `order.shipped`,
/// `order.delivered`, `order.cancelled` and `payment.refunded`.
#[derive(Clone)]
pub struct MailOnEvents {
    mails: Mails,
    mailer: Arc<dyn Mailer>,
    pool: PgPool,
}

impl std::fmt::Debug for MailOnEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailOnEvents").finish_non_exhaustive()
    }
}

impl MailOnEvents {
    pub fn new(mails: Mails, mailer: Arc<dyn Mailer>, pool: PgPool) -> Self {
        Self {
            mails,
            mailer,
            pool,
        }
    }

    async fn mail(&self, notice: Notice, entry: InboxEntry) -> anyhow::Result<Handled> {
        let mail = self.mails.compose(entry.message_id(), &notice).await?;
        apply_once(&self.pool, &entry, async {
            match &mail {
                Some(mail) => self.mailer.send(mail).await,
                None => Ok(()),
            }
        })
        .await
    }
}

macro_rules! mails_on {
    ($($event:ty => $notice:ident),* $(,)?) => {$(
        #[async_trait]
        impl EventHandler<$event> for MailOnEvents {
            async fn handle(
                &self,
                event: &Envelope<$event>,
                entry: InboxEntry,
            ) -> anyhow::Result<Handled> {
                self.mail(Notice::$notice(event.data.clone().into()), entry).await
            }
        }
    )*};
}

mails_on! {
    UserRegistered => Registered,
    OrderConfirmed => Confirmed,
    OrderShipped => Shipped,
    OrderDelivered => Delivered,
    OrderCancelled => Cancelled,
    PaymentRefunded => Refunded,
}
