//! Notes in Postgres.

use anyhow::Context as _;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use shop_messaging::{Handled, InboxEntry};
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::app::ports::NoteStore;
use crate::domain::Note;

#[derive(Debug, Clone)]
pub struct PgNoteStore {
    pool: PgPool,
}

impl PgNoteStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[derive(FromRow)]
struct NoteRow {
    id: Uuid,
    author_id: Uuid,
    text: String,
    created_at: DateTime<Utc>,
}

async fn insert(conn: &mut PgConnection, note: &Note) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO note (id, author_id, text, created_at) VALUES ($1, $2, $3, $4)")
        .bind(note.id())
        .bind(note.author_id())
        .bind(note.text())
        .bind(note.created_at())
        .execute(conn)
        .await
        .context("inserting the note")?;
    Ok(())
}

#[async_trait]
impl NoteStore for PgNoteStore {
    async fn insert(&self, note: &Note) -> anyhow::Result<()> {
        let mut conn = self.pool.acquire().await.context("connecting")?;
        insert(&mut conn, note).await
    }

    async fn get(&self, id: Uuid) -> anyhow::Result<Option<Note>> {
        let row = sqlx::query_as::<_, NoteRow>(
            "SELECT id, author_id, text, created_at FROM note WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .context("reading the note")?;
        Ok(row.map(|r| Note::restore(r.id, r.author_id, r.text, r.created_at)))
    }

    async fn insert_once(&self, note: &Note, inbox: InboxEntry) -> anyhow::Result<Handled> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("beginning the transaction")?;
        if inbox
            .record(&mut tx)
            .await
            .context("recording the event in the inbox")?
            == Handled::Duplicate
        {
            return Ok(Handled::Duplicate);
        }
        insert(&mut tx, note).await?;
        tx.commit().await.context("committing")?;
        Ok(Handled::Applied)
    }
}
