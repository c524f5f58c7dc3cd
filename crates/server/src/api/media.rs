//! Media uploads: `POST /api/v1/media?kind=image&filename=mug.png` with the file's bytes as the
//! body and its `Content-Type`. Messages then refer to it by id; the dispatcher uploads the bytes
//! to each platform once and reuses the platform's handle.
//!
//! `GET /public/media/{id}/{sha256}` serves a file without credentials, for the one case a
//! platform only accepts a URL (Messenger card images). The content hash in the path is the
//! capability: ids alone are guessable, hashes are not.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use subtle::ConstantTimeEq;
use switchboard_domain::MediaKind;
use switchboard_storage::{MediaInfo, NewMedia};

use crate::app::{AppState, Id};
use crate::auth::ActorOf;
use crate::error::{ApiError, ApiResult};
use crate::webhooks::read_body;

/// The largest file any platform accepts (Telegram documents and videos; Messenger takes 25 MB,
/// images on Telegram 10 MB — checked per channel when a message uses the file).
pub const MAX_UPLOAD_BYTES: usize = 50 * 1024 * 1024;

pub async fn upload(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<MediaInfo>)> {
    actor.require(switchboard_service::Permission::Compose)?;
    let kind = query
        .get("kind")
        .and_then(|k| MediaKind::parse(k))
        .ok_or(ApiError::Invalid {
            field: "kind",
            message: "kind must be one of image, video, audio, file".into(),
        })?;
    let filename = query.get("filename").map(|f| f.trim()).unwrap_or_default();
    if filename.is_empty()
        || filename.chars().count() > 255
        || filename.contains(['/', '\\'])
        || filename.chars().any(char::is_control)
    {
        return Err(ApiError::Invalid {
            field: "filename",
            message: "a file name of 1–255 characters without slashes is required".into(),
        });
    }
    let mime_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| v.contains('/'))
        .ok_or(ApiError::Invalid {
            field: "content_type",
            message: "the Content-Type header must give the file's media type".into(),
        })?;
    let family = match kind {
        MediaKind::Image => Some("image/"),
        MediaKind::Video => Some("video/"),
        // Messenger refuses audio without an audio/* type (A17).
        MediaKind::Audio => Some("audio/"),
        MediaKind::File => None,
    };
    if let Some(prefix) = family
        && !mime_type.starts_with(prefix)
    {
        return Err(ApiError::Invalid {
            field: "content_type",
            message: format!("{} media must be {prefix}*, got {mime_type}", kind.as_str()),
        });
    }
    let data = read_body(body, MAX_UPLOAD_BYTES).await?;
    if data.is_empty() {
        return Err(ApiError::Invalid {
            field: "body",
            message: "the file is empty".into(),
        });
    }
    let info = state
        .service
        .upload_media(
            &actor,
            NewMedia {
                kind,
                filename: filename.to_owned(),
                mime_type,
                data: data.to_vec(),
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info)))
}

pub async fn info(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<MediaInfo>> {
    Ok(Json(state.service.media_info(&actor, id).await?))
}

pub async fn public(
    State(state): State<AppState>,
    Path((id, sha256)): Path<(i64, String)>,
) -> ApiResult<impl IntoResponse> {
    let (info, data) = state.store.media_data(id).await?;
    if !bool::from(info.sha256.as_bytes().ct_eq(sha256.as_bytes())) {
        return Err(ApiError::NotFound);
    }
    Ok((
        [
            (header::CONTENT_TYPE, info.mime_type),
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_owned(),
            ),
        ],
        data,
    ))
}

/// Where a platform can fetch an uploaded file, when this server knows its public URL.
pub fn public_url(base: &str, info: &MediaInfo) -> String {
    format!(
        "{}/public/media/{}/{}",
        base.trim_end_matches('/'),
        info.id,
        info.sha256
    )
}
