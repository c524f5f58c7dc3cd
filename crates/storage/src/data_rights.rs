//! A person's data rights: everything Switchboard holds about a contact, as one document, and
//! erasure — texts, media references, names, attributes, tags, notes and raw webhook payloads
//! removed in one transaction, while the rows that anonymous reports count (message directions,
//! authors, times, statuses) stay.

use switchboard_domain::{ContactId, Millis};

use crate::team_inbox::NoteRow;
use crate::{Backend, ContactRow, ConversationRow, MessageRow, Result, Store, StoreError};

/// What Switchboard holds about one person (`GET /api/v1/contacts/{id}/export`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContactExport {
    pub contact: ContactRow,
    pub tags: Vec<String>,
    pub conversation: Option<ConversationRow>,
    pub conversation_tags: Vec<String>,
    pub messages: Vec<MessageRow>,
    pub notes: Vec<NoteRow>,
    pub exported_at: Millis,
}

impl Store {
    pub async fn export_contact(&self, id: ContactId, now: Millis) -> Result<ContactExport> {
        let contact = self.get_contact(id).await?;
        let tags = sqlx::query("SELECT tag FROM contact_tags WHERE contact_id = $1 ORDER BY tag")
            .bind(id.0)
            .fetch_all(&self.read)
            .await?
            .iter()
            .map(|r| crate::rows::get(r, "tag"))
            .collect::<Result<Vec<String>>>()?;
        let conversation = match self.conversation_of_contact(id).await {
            Ok(c) => Some(c),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let (messages, notes, conversation_tags) = match &conversation {
            Some(c) => (
                self.list_messages(c.id).await?,
                self.list_notes(c.id).await?,
                self.conversation_tags(c.id).await?,
            ),
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        Ok(ContactExport {
            contact,
            tags,
            conversation,
            conversation_tags,
            messages,
            notes,
            exported_at: now,
        })
    }

    async fn conversation_of_contact(&self, id: ContactId) -> Result<ConversationRow> {
        let row = sqlx::query("SELECT id FROM conversations WHERE contact_id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.get_conversation(switchboard_domain::ConversationId(crate::rows::get(
            &row, "id",
        )?))
        .await
    }

    /// Erases a person's personal data. Their platform id is replaced too (`erased:<id>`): if
    /// they write again they are a new contact, with nothing of the old one attached.
    pub async fn erase_contact(&self, id: ContactId, now: Millis) -> Result<()> {
        let mut tx = self.write.begin().await?;
        let done = sqlx::query(
            "UPDATE contacts SET first_name = NULL, last_name = NULL, username = NULL,
                    locale = NULL, source_ref = NULL, attributes = '{}',
                    external_id = 'erased:' || CAST(id AS TEXT), updated_at = $1
             WHERE id = $2",
        )
        .bind(now.0)
        .bind(id.0)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        let statements = [
            "UPDATE messages SET text = NULL, content = '{}', error_detail = NULL WHERE contact_id = $1",
            "UPDATE events SET payload = '{}' WHERE contact_id = $1",
            "DELETE FROM contact_tags WHERE contact_id = $1",
            "UPDATE notes SET text = '', mentions = '[]'
             WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = $1)",
            "DELETE FROM conversation_tags
             WHERE conversation_id IN (SELECT id FROM conversations WHERE contact_id = $1)",
            "UPDATE scheduled_messages SET request = '{}', status = 'cancelled'
             WHERE status = 'scheduled'
               AND conversation_id IN (SELECT id FROM conversations WHERE contact_id = $1)",
        ];
        for sql in statements {
            sqlx::query(sql).bind(id.0).execute(&mut *tx).await?;
        }
        match self.backend {
            Backend::Sqlite => {
                // FTS5 rows by their UNINDEXED column; the refs with them.
                sqlx::query(
                    "DELETE FROM search_refs WHERE (kind, ref_id) IN (
                        SELECT kind, ref_id FROM search_docs WHERE contact_id = $1)",
                )
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM search_docs WHERE contact_id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
            Backend::Postgres => {
                sqlx::query("DELETE FROM search_docs WHERE contact_id = $1")
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
