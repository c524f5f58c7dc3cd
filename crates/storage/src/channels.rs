//! Connected channels (a Messenger page or a Telegram bot) and their settings.

use sqlx::any::AnyRow;
use switchboard_domain::{ChannelId, ChannelKind, ChannelSettings, Millis};

use crate::contacts::ChannelAlert;
use crate::rows::{get, parse_enum, parse_json, to_json};
use crate::{Result, Store, StoreError};

/// A channel as stored, secrets included. Never serialise this into an API response: the server
/// builds its public view field by field.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRecord {
    pub id: ChannelId,
    pub kind: ChannelKind,
    pub name: String,
    /// Page id, or the bot id (the numeric part of the bot token).
    pub external_id: String,
    pub settings: ChannelSettings,
    pub default_reply: Option<String>,
    /// Something a person must fix (e.g. rejected credentials); `None` when healthy.
    pub alert: Option<ChannelAlert>,
    /// Custom contact attributes declared on this channel: the `{{attr.<key>}}` templates may use.
    pub attribute_keys: Vec<String>,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewChannel {
    pub name: String,
    pub external_id: String,
    pub settings: ChannelSettings,
    pub default_reply: Option<String>,
}

const COLUMNS: &str =
    "id, kind, name, external_id, settings, default_reply, alert, attribute_keys, created_at";

fn from_row(row: &AnyRow) -> Result<ChannelRecord> {
    Ok(ChannelRecord {
        id: ChannelId(get(row, "id")?),
        kind: parse_enum(row, "kind", ChannelKind::parse)?,
        name: get(row, "name")?,
        external_id: get(row, "external_id")?,
        settings: parse_json(row, "settings")?,
        default_reply: get(row, "default_reply")?,
        alert: get::<Option<String>>(row, "alert")?
            .map(|raw| serde_json::from_str(&raw))
            .transpose()
            .map_err(|e| StoreError::Corrupt(format!("alert: {e}")))?,
        attribute_keys: parse_json(row, "attribute_keys")?,
        created_at: Millis(get(row, "created_at")?),
    })
}

impl Store {
    /// Stores a new channel. Connecting the same page or bot twice is a `Conflict`.
    pub async fn create_channel(&self, new: NewChannel) -> Result<ChannelRecord> {
        let settings = to_json(&new.settings)?;
        let row = sqlx::query(
            "INSERT INTO channels (kind, name, external_id, settings, default_reply, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING id, kind, name, external_id, settings, default_reply, alert, attribute_keys, created_at",
        )
        .bind(new.settings.kind().as_str())
        .bind(new.name)
        .bind(new.external_id)
        .bind(settings)
        .bind(new.default_reply)
        .bind(Millis::now().0)
        .fetch_one(&self.write)
        .await?;
        from_row(&row)
    }

    pub async fn list_channels(&self) -> Result<Vec<ChannelRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM channels ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn get_channel(&self, id: ChannelId) -> Result<ChannelRecord> {
        let sql = format!("SELECT {COLUMNS} FROM channels WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.0)
            .fetch_one(&self.read)
            .await?;
        from_row(&row)
    }
}
