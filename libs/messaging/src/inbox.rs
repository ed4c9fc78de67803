//! The inbox: remembers which messages a consumer has applied, in the handler's transaction.

use sqlx::PgConnection;
use uuid::Uuid;

/// Records that `consumer` applies `message_id` in the current transaction. Returns false when
/// it already did: the message is a duplicate and must change nothing.
///
/// A concurrent duplicate blocks on the primary key until the first transaction ends, then
/// sees its row: two deliveries of one message are applied once even when processed at once.
pub(crate) async fn record(
    tx: &mut PgConnection,
    consumer: &str,
    message_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO processed_message (consumer, message_id) VALUES ($1, $2) \
         ON CONFLICT (consumer, message_id) DO NOTHING",
    )
    .bind(consumer)
    .bind(message_id)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
