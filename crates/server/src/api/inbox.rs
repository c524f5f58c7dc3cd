//! Contacts, conversations and messages.

use std::collections::BTreeMap;

use crate::body::LimitedBody;
use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use switchboard_automation::engine::on_resolved;
use switchboard_automation::state::AutomationState;
use switchboard_domain::template::AttributeKey;
use switchboard_domain::{ChannelId, ContactId, ConversationId, Millis};
use switchboard_storage::{ContactRow, ConversationRow, MessageRow};

use super::parse_json;
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

pub async fn contact(
    _: Admin,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<ContactRow>> {
    Ok(Json(state.store.get_contact(ContactId(id)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    subscribed: bool,
}

/// `PUT /api/v1/contacts/{id}/subscription` `{"subscribed": false}`: unsubscribes (no marketing
/// until they resubscribe) or resubscribes a person, e.g. at their request by another channel.
pub async fn set_subscription(
    _: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<ContactRow>> {
    let req: Subscription = parse_json(&body)?;
    state
        .store
        .set_subscribed(ContactId(id), req.subscribed, Millis::now())
        .await?;
    Ok(Json(state.store.get_contact(ContactId(id)).await?))
}

/// `PATCH /api/v1/contacts/{id}/attributes` `{"budget": "50", "old": null}`: sets or removes
/// custom attributes. Only keys declared on the contact's channel are accepted.
pub async fn patch_attributes(
    _: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<ContactRow>> {
    let changes: BTreeMap<String, Option<String>> = parse_json(&body)?;
    let contact = state.store.get_contact(ContactId(id)).await?;
    let channel = state.registry.get(contact.channel_id).await?;
    for (key, value) in &changes {
        AttributeKey::parse(key).map_err(|e| ApiError::Invalid {
            field: "attributes",
            message: e.to_string(),
        })?;
        if !channel.record.attribute_keys.contains(key) {
            return Err(ApiError::Invalid {
                field: "attributes",
                message: format!(
                    "{key:?} is not declared on this channel (PUT /api/v1/channels/{}/attribute-keys)",
                    channel.record.id
                ),
            });
        }
        if value.as_ref().is_some_and(|v| v.chars().count() > 1000) {
            return Err(ApiError::Invalid {
                field: "attributes",
                message: format!("the value of {key:?} is longer than 1000 characters"),
            });
        }
    }
    state
        .store
        .merge_contact_attributes(contact.id, &changes, Millis::now())
        .await?;
    Ok(Json(state.store.get_contact(contact.id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    status: String,
}

/// `PUT /api/v1/conversations/{id}/status` `{"status": "resolved"}`: resolving ends a hand-over
/// and gives the conversation back to automations from a clean slate (the next message starts a
/// new conversation); `open` ends a hand-over but keeps the rest.
pub async fn set_status(
    _: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<ConversationRow>> {
    let req: StatusChange = parse_json(&body)?;
    if req.status != "resolved" && req.status != "open" {
        return Err(ApiError::Invalid {
            field: "status",
            message: "status is `resolved` or `open`".into(),
        });
    }
    let conversation = ConversationId(id);
    for _ in 0..5 {
        let (raw, _) = state.store.conversation_automation(conversation).await?;
        let current: AutomationState = serde_json::from_str(&raw).unwrap_or_default();
        let next = if req.status == "resolved" {
            on_resolved(&current)
        } else {
            AutomationState {
                handover: None,
                unrecognised: 0,
                ..current
            }
        };
        let json = serde_json::to_string(&next).map_err(|_| ApiError::Internal)?;
        if state
            .store
            .set_conversation_automation(conversation, &raw, &json, &req.status)
            .await?
        {
            return Ok(Json(state.store.get_conversation(conversation).await?));
        }
    }
    Err(ApiError::Conflict(
        "the conversation changed while being updated; try again".into(),
    ))
}
