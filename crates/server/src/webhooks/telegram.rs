use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use switchboard_channels::telegram;
use switchboard_domain::{ChannelKind, ChannelSettings};

use super::{channel_of_kind, read_body, store_events};
use crate::app::{AppState, Id};
use crate::error::ApiError;

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// `POST`: one Update. The secret header is checked before the body is even parsed.
pub async fn receive(
    State(state): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
    body: Body,
) -> Result<&'static str, ApiError> {
    let body = read_body(body, state.config.body_limit).await?;
    let channel = channel_of_kind(&state, id, ChannelKind::Telegram).await?;
    let ChannelSettings::Telegram(settings) = &channel.record.settings else {
        return Err(ApiError::NotFound);
    };
    let presented = headers.get(SECRET_HEADER).and_then(|v| v.to_str().ok());
    if presented.is_none() {
        return Err(ApiError::Unauthenticated);
    }
    if !telegram::verify_secret(&settings.secret_token, presented) {
        return Err(ApiError::Forbidden(
            "X-Telegram-Bot-Api-Secret-Token does not match".into(),
        ));
    }
    let envelope =
        telegram::parse_update(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    store_events(&state, &channel, vec![envelope]).await?;
    Ok("ok")
}
