//! Media uploaded to Switchboard, and the platform handle each channel got for it.

use std::collections::HashMap;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use switchboard_domain::{ChannelId, MediaKind, Millis};

use crate::rows::{get, parse_enum, placeholders};
use crate::{Result, Store};

/// A platform handle older than this is not reused: Messenger attachment ids expire after 90
/// days (A17), and a re-upload is cheaper than a failed send.
const PLATFORM_REF_MAX_AGE_MS: i64 = 80 * 24 * 3600 * 1000;

/// What is known about an uploaded file, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaInfo {
    pub id: i64,
    pub kind: MediaKind,
    pub filename: String,
    pub mime_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewMedia {
    pub kind: MediaKind,
    pub filename: String,
    pub mime_type: String,
    pub data: Vec<u8>,
}

const COLUMNS: &str = "id, kind, filename, mime_type, size_bytes, sha256, created_at";

fn from_row(row: &AnyRow) -> Result<MediaInfo> {
    Ok(MediaInfo {
        id: get(row, "id")?,
        kind: parse_enum(row, "kind", MediaKind::parse)?,
        filename: get(row, "filename")?,
        mime_type: get(row, "mime_type")?,
        size_bytes: get(row, "size_bytes")?,
        sha256: get(row, "sha256")?,
        created_at: Millis(get(row, "created_at")?),
    })
}

impl Store {
    pub async fn create_media(&self, new: NewMedia) -> Result<MediaInfo> {
        let sha256 = hex::encode(Sha256::digest(&new.data));
        let size = i64::try_from(new.data.len()).unwrap_or(i64::MAX);
        let sql = format!(
            "INSERT INTO media (kind, filename, mime_type, size_bytes, sha256, data, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(new.kind.as_str())
            .bind(new.filename)
            .bind(new.mime_type)
            .bind(size)
            .bind(sha256)
            .bind(new.data)
            .bind(Millis::now().0)
            .fetch_one(&self.write)
            .await?;
        from_row(&row)
    }

    pub async fn get_media(&self, id: i64) -> Result<MediaInfo> {
        let sql = format!("SELECT {COLUMNS} FROM media WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&self.read)
            .await?;
        from_row(&row)
    }

    /// Metadata of several media at once (missing ids are simply absent).
    pub async fn media_infos(&self, ids: &[i64]) -> Result<HashMap<i64, MediaInfo>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM media WHERE id IN ({})",
            placeholders(0, ids.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.iter()
            .map(|row| from_row(row).map(|m| (m.id, m)))
            .collect()
    }

    /// The file itself.
    pub async fn media_data(&self, id: i64) -> Result<(MediaInfo, Vec<u8>)> {
        let sql = format!("SELECT {COLUMNS}, data FROM media WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(&self.read)
            .await?;
        Ok((from_row(&row)?, get(&row, "data")?))
    }

    /// The handles `channel` already holds for these media, if still fresh.
    pub async fn media_platform_refs(
        &self,
        channel: ChannelId,
        ids: &[i64],
        now: Millis,
    ) -> Result<HashMap<i64, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT media_id, platform_ref FROM media_platform_refs
             WHERE channel_id = $1 AND created_at > $2 AND media_id IN ({})",
            placeholders(2, ids.len())
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(channel.0)
            .bind(now.0 - PLATFORM_REF_MAX_AGE_MS);
        for id in ids {
            query = query.bind(*id);
        }
        let rows = query.fetch_all(&self.read).await?;
        rows.iter()
            .map(|row| Ok((get(row, "media_id")?, get(row, "platform_ref")?)))
            .collect()
    }

    /// Remembers the handles a channel got from uploads (replacing older ones).
    pub async fn save_media_platform_refs(
        &self,
        channel: ChannelId,
        refs: &[(i64, String)],
        now: Millis,
    ) -> Result<()> {
        for (media_id, platform_ref) in refs {
            sqlx::query(
                "INSERT INTO media_platform_refs (media_id, channel_id, platform_ref, created_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (media_id, channel_id)
                 DO UPDATE SET platform_ref = excluded.platform_ref, created_at = excluded.created_at",
            )
            .bind(*media_id)
            .bind(channel.0)
            .bind(platform_ref)
            .bind(now.0)
            .execute(&self.write)
            .await?;
        }
        Ok(())
    }

    /// The platform id of this persona on this channel, if it was created before.
    pub async fn persona_platform_id(
        &self,
        channel: ChannelId,
        name: &str,
        avatar_url: &str,
    ) -> Result<Option<String>> {
        let row = sqlx::query(
            "SELECT platform_id FROM channel_personas WHERE channel_id = $1 AND name = $2 AND avatar_url = $3",
        )
        .bind(channel.0)
        .bind(name)
        .bind(avatar_url)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| get(&r, "platform_id")).transpose()
    }

    /// Remembers a persona's platform id and returns the one to use: if another sender created
    /// the same persona meanwhile, the first one saved wins (the other is merely unused).
    pub async fn save_persona_platform_id(
        &self,
        channel: ChannelId,
        name: &str,
        avatar_url: &str,
        platform_id: &str,
        now: Millis,
    ) -> Result<String> {
        sqlx::query(
            "INSERT INTO channel_personas (channel_id, name, avatar_url, platform_id, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (channel_id, name, avatar_url) DO NOTHING",
        )
        .bind(channel.0)
        .bind(name)
        .bind(avatar_url)
        .bind(platform_id)
        .bind(now.0)
        .execute(&self.write)
        .await?;
        self.persona_platform_id(channel, name, avatar_url)
            .await?
            .ok_or(crate::StoreError::NotFound)
    }
}
