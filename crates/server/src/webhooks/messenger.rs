use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Deserialize;
use switchboard_channels::messenger::{self, SignatureError};
use switchboard_domain::{ChannelKind, ChannelSettings};

use super::{channel_of_kind, read_body, store_events};
use crate::app::{AppState, Id};
use crate::error::ApiError;

#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// `GET`: Meta's subscription handshake. Echo the challenge when the verify token matches.
pub async fn verify(
    State(state): State<AppState>,
    Id(id): Id,
    Query(q): Query<Handshake>,
) -> Result<String, ApiError> {
    let channel = channel_of_kind(&state, id, ChannelKind::Messenger).await?;
    let ChannelSettings::Messenger(settings) = &channel.record.settings else {
        return Err(ApiError::NotFound);
    };
    messenger::verify_handshake(
        q.mode.as_deref(),
        q.verify_token.as_deref(),
        q.challenge.as_deref(),
        &settings.verify_token,
    )
    .ok_or(ApiError::Forbidden("verify token does not match".into()))
}

/// `POST`: events. Signature first (on the exact bytes received), then parse, then store.
pub async fn receive(
    State(state): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let body = read_body(body, state.config.body_limit).await?;
    let channel = channel_of_kind(&state, id, ChannelKind::Messenger).await?;
    let ChannelSettings::Messenger(settings) = &channel.record.settings else {
        return Err(ApiError::NotFound);
    };
    let signature = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    messenger::verify_signature(settings.app_secret.as_bytes(), &body, signature).map_err(|e| {
        match e {
            SignatureError::Missing => ApiError::Unauthenticated,
            _ => ApiError::Forbidden("X-Hub-Signature-256 does not match the body".into()),
        }
    })?;
    let parsed = messenger::parse_webhook(&body, &settings.page_id)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if parsed.skipped_foreign_entries > 0 {
        tracing::warn!(
            channel = id,
            skipped = parsed.skipped_foreign_entries,
            "entries for another page ignored"
        );
    }
    store_events(&state, &channel, parsed.envelopes).await?;
    Ok("EVENT_RECEIVED")
}
