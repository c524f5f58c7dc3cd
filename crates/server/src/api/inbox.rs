//! Contacts, conversations and messages: thin handlers over the service layer, which checks the
//! actor's role and scope.

use std::collections::BTreeMap;

use crate::body::LimitedBody;
use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use switchboard_domain::{ChannelId, ContactId, ConversationId};
use switchboard_service::inbox::StatusChange;
use switchboard_storage::{ContactRow, ConversationRow, MessageRow};

use super::parse_json;
use crate::app::{AppState, Id};
use crate::auth::ActorOf;
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
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Query(q): Query<ByChannel>,
) -> ApiResult<Json<Vec<ContactRow>>> {
    Ok(Json(
        state.service.list_contacts(&actor, q.channel()?).await?,
    ))
}

pub async fn conversations(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Query(q): Query<ByChannel>,
) -> ApiResult<Json<Vec<ConversationRow>>> {
    Ok(Json(
        state
            .service
            .list_conversations(&actor, q.channel()?)
            .await?,
    ))
}

pub async fn messages(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Vec<MessageRow>>> {
    Ok(Json(
        state
            .service
            .conversation_messages(&actor, ConversationId(id))
            .await?,
    ))
}

pub async fn contact(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<ContactRow>> {
    Ok(Json(state.service.contact(&actor, ContactId(id)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    subscribed: bool,
}

/// `PUT /api/v1/contacts/{id}/subscription` `{"subscribed": false}`.
pub async fn set_subscription(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<ContactRow>> {
    let req: Subscription = parse_json(&body)?;
    Ok(Json(
        state
            .service
            .set_subscription(&actor, ContactId(id), req.subscribed)
            .await?,
    ))
}

/// `PATCH /api/v1/contacts/{id}/attributes` `{"budget": "50", "old": null}`: sets or removes
/// custom attributes. Only keys declared on the contact's channel are accepted.
pub async fn patch_attributes(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<ContactRow>> {
    let changes: BTreeMap<String, Option<String>> = parse_json(&body)?;
    Ok(Json(
        state
            .service
            .patch_attributes(&actor, ContactId(id), changes)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    status: String,
}

/// `PUT /api/v1/conversations/{id}/status` `{"status": "resolved"}`.
pub async fn set_status(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<ConversationRow>> {
    let req: StatusRequest = parse_json(&body)?;
    let status = StatusChange::parse(&req.status)?;
    Ok(Json(
        state
            .service
            .set_status(&actor, ConversationId(id), status)
            .await?,
    ))
}
