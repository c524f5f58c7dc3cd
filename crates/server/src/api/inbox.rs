//! Contacts, conversations and messages: thin handlers over the service layer, which checks the
//! actor's role and scope.

use std::collections::BTreeMap;

use crate::body::LimitedBody;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::{ChannelId, ContactId, ConversationId, Millis, TeamId, UserId};
use switchboard_service::inbox::StatusChange;
use switchboard_service::team_inbox::{ListFilters, ListItem, ListPage};
use switchboard_storage::{ContactRow, ConversationRow, MessageRow, NoteRow};

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

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    assignee: Option<String>,
    team_id: Option<i64>,
    channel_id: Option<i64>,
    tag: Option<String>,
    #[serde(default)]
    unread: bool,
    q: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/conversations?status=&assignee=me|none|{id}&team_id=&channel_id=&tag=&unread=&q=&cursor=&limit=`
/// → `{"items":[…],"next_cursor":…}`, newest activity first.
pub async fn conversations(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<ListPage>> {
    let filters = ListFilters {
        status: q.status,
        assignee: q.assignee,
        team_id: q.team_id.map(TeamId),
        channel_id: q.channel_id.map(ChannelId),
        tag: q.tag,
        unread: q.unread,
        q: q.q,
        cursor: q.cursor,
        limit: q.limit,
    };
    Ok(Json(
        state.service.conversation_list(&actor, filters).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    user_id: Option<i64>,
}

/// `POST /api/v1/conversations/{id}/assign` `{"user_id": 7 | null}`.
pub async fn assign(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<ListItem>> {
    let req: AssignRequest = parse_json(&body)?;
    Ok(Json(
        state
            .service
            .assign(&actor, ConversationId(id), req.user_id.map(UserId))
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsRequest {
    tags: Vec<String>,
}

/// `PUT /api/v1/conversations/{id}/tags` `{"tags": [...]}`.
pub async fn set_tags(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<Value>> {
    let req: TagsRequest = parse_json(&body)?;
    let tags = state
        .service
        .set_tags(&actor, ConversationId(id), req.tags)
        .await?;
    Ok(Json(json!({ "tags": tags })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    text: String,
}

/// `POST /api/v1/conversations/{id}/notes` `{"text"}` → 201: a private note, never sent.
pub async fn add_note(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<(StatusCode, Json<NoteRow>)> {
    let req: NoteRequest = parse_json(&body)?;
    let note = state
        .service
        .add_note(&actor, ConversationId(id), req.text)
        .await?;
    Ok((StatusCode::CREATED, Json(note)))
}

pub async fn notes(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let notes = state.service.notes(&actor, ConversationId(id)).await?;
    Ok(Json(json!({ "items": notes })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnoozeRequest {
    /// RFC 3339.
    until: String,
}

/// `POST /api/v1/conversations/{id}/snooze` `{"until": "2026-12-04T09:00:00+01:00"}`.
pub async fn snooze(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<ListItem>> {
    let req: SnoozeRequest = parse_json(&body)?;
    let until: jiff::Timestamp = req.until.parse().map_err(|_| ApiError::Invalid {
        field: "until",
        message: "an RFC 3339 time, e.g. 2026-12-04T09:00:00+01:00".into(),
    })?;
    Ok(Json(
        state
            .service
            .snooze(&actor, ConversationId(id), Millis(until.as_millisecond()))
            .await?,
    ))
}

/// `POST /api/v1/conversations/{id}/read`: read by this agent, and "Seen" for the customer.
pub async fn read(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state.service.mark_read(&actor, ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/conversations/{id}/typing`: the customer sees the agent typing.
pub async fn typing(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state.service.typing(&actor, ConversationId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
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

#[derive(Deserialize)]
pub struct ReportQuery {
    channel_id: Option<i64>,
    from: Option<String>,
    to: Option<String>,
}

fn rfc3339(field: &'static str, raw: Option<&str>) -> ApiResult<Option<Millis>> {
    raw.map(|r| {
        r.parse::<jiff::Timestamp>()
            .map(|t| Millis(t.as_millisecond()))
            .map_err(|_| ApiError::Invalid {
                field,
                message: "an RFC 3339 time".into(),
            })
    })
    .transpose()
}

/// `GET /api/v1/reports/responsiveness?channel_id=&from=&to=` →
/// `{"response_rate","response_time_secs","badge","counted",…}` (protocols.md D1).
pub async fn responsiveness(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<Json<Value>> {
    let channel = ByChannel {
        channel_id: q.channel_id,
    }
    .channel()?;
    let from = rfc3339("from", q.from.as_deref())?;
    let to = rfc3339("to", q.to.as_deref())?;
    let report = state
        .service
        .responsiveness(&actor, channel, from, to)
        .await?;
    Ok(Json(json!(report)))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/v1/search?q=&limit=` → `{"items":[{"kind","conversation_id","contact_id","snippet"}]}`.
pub async fn search(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Value>> {
    let hits = state
        .service
        .search(&actor, q.q.as_deref().unwrap_or(""), q.limit)
        .await?;
    Ok(Json(json!({ "items": hits })))
}

/// `GET /api/v1/contacts/{id}/export`: everything held about the person.
pub async fn export_contact(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<switchboard_storage::ContactExport>> {
    Ok(Json(
        state.service.export_contact(&actor, ContactId(id)).await?,
    ))
}

/// `DELETE /api/v1/contacts/{id}` → 204: the person's data is erased.
pub async fn erase_contact(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state.service.erase_contact(&actor, ContactId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
