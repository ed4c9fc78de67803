//! The inbox: remembers which messages a consumer has applied, in the transaction that applies
//! them.

use std::future::Future;

use anyhow::Context as _;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What applying a delivered message came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Its effect was applied now.
    Applied,
    /// It had been applied before (a redelivery): nothing changed.
    Duplicate,
}

/// A delivered message's entry in its consumer's inbox. The store that applies the message's
/// effect records it in the same transaction as the effect ([`InboxEntry::record`]), so the
/// effect commits exactly once however often the message is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    consumer: String,
    message_id: Uuid,
}

impl InboxEntry {
    /// The entry of `message_id` for `consumer` (the consumer runner makes these; tests of
    /// stores may too).
    pub fn new(consumer: impl Into<String>, message_id: Uuid) -> Self {
        Self {
            consumer: consumer.into(),
            message_id,
        }
    }

    pub fn message_id(&self) -> Uuid {
        self.message_id
    }

    /// Records the entry in `tx`: [`Handled::Applied`] when it is new (go on and apply the
    /// effect in `tx`), [`Handled::Duplicate`] when the message was applied before (change
    /// nothing).
    ///
    /// A concurrent duplicate blocks on the primary key until the first transaction ends, then
    /// sees its row: two deliveries of one message are applied once even when processed at once.
    pub async fn record(&self, tx: &mut PgConnection) -> Result<Handled, sqlx::Error> {
        let inserted = sqlx::query(
            "INSERT INTO processed_message (consumer, message_id) VALUES ($1, $2) \
             ON CONFLICT (consumer, message_id) DO NOTHING",
        )
        .bind(&self.consumer)
        .bind(self.message_id)
        .execute(tx)
        .await?
        .rows_affected();
        Ok(if inserted == 1 {
            Handled::Applied
        } else {
            Handled::Duplicate
        })
    }
}

/// Applies an effect outside the database (a mail, a call to a third party) at most once per
/// message: the inbox entry is recorded in a transaction held open while `effect` runs, and
/// committed only when it succeeds. A duplicate delivered meanwhile waits on the entry's key
/// and then finds it; a failed effect rolls the entry back, so the message is retried.
///
/// Between the effect succeeding and the commit there is a window (a crash, a lost database)
/// in which the effect happened and the entry was not kept: the redelivery repeats it. Give
/// the effect a key the receiver can deduplicate by (a mail's `Message-ID` from the message
/// id) where that matters.
pub async fn apply_once<F>(pool: &PgPool, entry: &InboxEntry, effect: F) -> anyhow::Result<Handled>
where
    F: Future<Output = anyhow::Result<()>>,
{
    let mut tx = pool
        .begin()
        .await
        .context("beginning the inbox transaction")?;
    if entry
        .record(&mut tx)
        .await
        .context("recording the inbox entry")?
        == Handled::Duplicate
    {
        return Ok(Handled::Duplicate);
    }
    effect.await?;
    tx.commit().await.context("committing the inbox entry")?;
    Ok(Handled::Applied)
}
