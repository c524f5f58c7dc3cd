//! Contacts, conversations and messages.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use switchboard_domain::{ChannelId, ConversationId};
use switchboard_storage::{ContactRow, ConversationRow, MessageRow};

use crate::app::{AppState, Id};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize)]
pub struct ByChannel {
    channel_id: Option<i64>,
}

impl ByChannel {
    fn channel(&self) -> ApiResult<ChannelId> {
        self.channel_id.map(ChannelId).ok_or(ApiError::Invalid {
            field: "channel_id",
            message: "the channel_id query parameter is required".into(),
        })
    }
}

pub async fn contacts(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<ByChannel>,
) -> ApiResult<Json<Vec<ContactRow>>> {
    Ok(Json(state.store.list_contacts(q.channel()?).await?))
}

pub async fn conversations(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<ByChannel>,
) -> ApiResult<Json<Vec<ConversationRow>>> {
    Ok(Json(state.store.list_conversations(q.channel()?).await?))
}

pub async fn messages(
    _: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Vec<MessageRow>>> {
    let conversation = state.store.get_conversation(ConversationId(id)).await?;
    Ok(Json(state.store.list_messages(conversation.id).await?))
}
