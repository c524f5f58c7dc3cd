//! One way to say something to a customer: `POST /api/v1/conversations/{id}/messages`, and the
//! checks it runs, also offered alone as `POST /api/v1/lint`.
//!
//! Order of checks: the template must parse and name only known variables; the rendered text
//! must fit the platform; lint errors block (warnings come back with the result); the channel's
//! policy profile must allow the send — a refusal names its rule. Only then is the message
//! queued, with the messaging type and tag the policy chose.

use crate::body::LimitedBody;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::template::{Template, Variables};
use switchboard_domain::{ChannelKind, ConversationId, Millis, OutgoingMessage};
use switchboard_lint::Severity;
use switchboard_service::Permission;
use switchboard_service::send::{AgentMessage, Retry};

use super::parse_json;
use crate::app::{AppState, Id};
use crate::auth::ActorOf;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// A plain text message, with `{{placeholders}}`. Give this or `message`.
    #[serde(default)]
    text: Option<String>,
    /// A rich message (buttons, quick replies, media, cards); its visible texts may hold
    /// `{{placeholders}}`.
    #[serde(default)]
    message: Option<OutgoingMessage>,
    /// Marketing content: refused outside the messaging window and to unsubscribed contacts.
    #[serde(default)]
    promotional: bool,
    /// A Messenger message tag to ask for; the policy decides whether it applies.
    #[serde(default)]
    tag: Option<String>,
    /// Spell-check language; defaults to the contact's locale.
    #[serde(default)]
    language: Option<String>,
    /// Send later, at this RFC 3339 time: checked now and again when due.
    #[serde(default)]
    send_at: Option<String>,
}

/// The header a client sets to make a send safe to retry (see [`send`]).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// `POST /api/v1/conversations/{id}/messages`. With an `Idempotency-Key`, a retry of the same
/// request within 24 hours gets the first response and queues nothing; the same key with a
/// different body is refused (`idempotency_key_reused`). Only successful sends are remembered:
/// a refusal wrote nothing, so a retry is simply decided again.
pub async fn send(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let req: SendRequest = parse_json(&body)?;
    let request = AgentMessage {
        message: one_message(req.text, req.message)?,
        promotional: req.promotional,
        tag: req.tag,
        language: req.language,
    };
    if let Some(send_at) = req.send_at {
        if key.is_some() {
            return Err(ApiError::Invalid {
                field: "Idempotency-Key",
                message: "a message sent later is one row already; retry by reading it".into(),
            });
        }
        let at: jiff::Timestamp = send_at.parse().map_err(|_| ApiError::Invalid {
            field: "send_at",
            message: "an RFC 3339 time, e.g. 2026-12-04T09:00:00+01:00".into(),
        })?;
        let row = state
            .service
            .schedule_message(
                &actor,
                ConversationId(id),
                request,
                Millis(at.as_millisecond()),
            )
            .await?;
        return Ok((
            StatusCode::CREATED,
            Json(serde_json::json!({ "scheduled_message": row })),
        )
            .into_response());
    }
    let request_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let retry = key.map(|key| Retry {
        key,
        request_hash: &request_hash,
    });
    let sent = state
        .service
        .send_message(&actor, ConversationId(id), request, retry)
        .await?;
    let status = StatusCode::from_u16(sent.status).map_err(|_| ApiError::Internal)?;
    Ok((
        status,
        [(header::CONTENT_TYPE, "application/json")],
        sent.body,
    )
        .into_response())
}

/// The `Idempotency-Key` header, if given: 1–255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<&str>> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(Some)
        .ok_or(ApiError::Invalid {
            field: "Idempotency-Key",
            message: "an idempotency key is 1–255 visible ASCII characters".into(),
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintRequest {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    message: Option<OutgoingMessage>,
    channel: ChannelKind,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    promotional: bool,
}

/// `POST /api/v1/lint`: template errors, platform limit violations and lint findings for a
/// draft, without sending.
pub async fn lint_endpoint(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<Value>> {
    actor.require(Permission::Compose)?;
    let req: LintRequest = parse_json(&body)?;
    let message = one_message(req.text, req.message)?;
    let mut template_errors = Vec::new();
    for (field, text) in message.visible_texts() {
        if let Err(errors) = Template::parse_checked(text, &Variables::builtins()) {
            template_errors.extend(
                errors
                    .into_iter()
                    .map(|e| json!({ "field": field, "error": e })),
            );
        }
    }
    let violations = message.check(req.channel).err().unwrap_or_default();
    let findings = state
        .composer()
        .lint(&message, req.channel, req.language, req.promotional)
        .await?;
    let blocking = !template_errors.is_empty()
        || !violations.is_empty()
        || findings
            .iter()
            .any(|f| f.finding.severity == Severity::Error);
    Ok(Json(json!({
        "ok": !blocking,
        "template_errors": template_errors,
        "violations": violations,
        "findings": findings,
    })))
}

/// A request gives a plain `text` or a rich `message`, never both.
fn one_message(
    text: Option<String>,
    message: Option<OutgoingMessage>,
) -> ApiResult<OutgoingMessage> {
    match (text, message) {
        (Some(text), None) => Ok(OutgoingMessage::text(text)),
        (None, Some(message)) => Ok(message),
        _ => Err(ApiError::Invalid {
            field: "text",
            message: "give exactly one of `text` and `message`".into(),
        }),
    }
}

/// `GET /api/v1/scheduled-messages/{id}`: its status, and the rule that stopped it if any.
pub async fn scheduled(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let row = state.service.scheduled_message(&actor, id).await?;
    Ok(Json(json!({ "scheduled_message": row })))
}

/// `GET /api/v1/conversations/{id}/scheduled-messages`.
pub async fn scheduled_in(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    let rows = state
        .service
        .scheduled_messages(&actor, ConversationId(id))
        .await?;
    Ok(Json(json!({ "items": rows })))
}

/// `DELETE /api/v1/scheduled-messages/{id}` → 204, or 409 once it is being sent.
pub async fn cancel_scheduled(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state.service.cancel_scheduled(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
