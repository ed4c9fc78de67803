//! Reactions to the order service's events: every confirmed order leaves a note, once however
//! often the event is delivered (the store records the event in the inbox with the note).

use chrono::{DateTime, Utc};
use shop_kernel::Money;
use shop_messaging::{Handled, InboxEntry};
use uuid::Uuid;

use super::Notes;
use crate::domain::{Note, NoteText};

impl Notes {
    /// `order.confirmed`.
    pub async fn note_confirmed_order(
        &self,
        order_id: Uuid,
        customer: Uuid,
        total: &Money,
        at: DateTime<Utc>,
        inbox: InboxEntry,
    ) -> anyhow::Result<Handled> {
        let text = NoteText::parse(&format!("order {order_id} confirmed, {total}"))
            .map_err(|reason| anyhow::anyhow!("the note of a confirmed order {reason}"))?;
        let note = Note::write(Uuid::now_v7(), customer, text, at);
        self.store.insert_once(&note, inbox).await
    }
}
