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
use switchboard_domain::{AuthorKind, ChannelKind, ConversationId, Millis, OutgoingMessage};
use switchboard_lint::Severity;
use switchboard_storage::{IdempotencyKey, Idempotent, Lane, MessageRow, StoredResponse};

use super::parse_json;
use crate::app::{AppState, Id};
use crate::auth::Admin;
use crate::compose::Draft;
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
}

/// The header a client sets to make a send safe to retry (see [`send`]).
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// `POST /api/v1/conversations/{id}/messages`. With an `Idempotency-Key`, a retry of the same
/// request within 24 hours gets the first response and queues nothing; the same key with a
/// different body is refused (`idempotency_key_reused`). Only successful sends are remembered:
/// a refusal wrote nothing, so a retry is simply decided again.
pub async fn send(
    _: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    let key = idempotency_key(&headers)?;
    let req: SendRequest = parse_json(&body)?;
    let message = one_message(req.text, req.message)?;
    let draft = Draft {
        message,
        author: AuthorKind::Agent,
        lane: Lane::Reply,
        promotional: req.promotional,
        tag: req.tag,
        language: req.language,
        lint: true,
        persona: None,
    };
    let now = Millis::now();
    let Some(key) = key else {
        let queued = state
            .composer()
            .queue(ConversationId(id), draft, now)
            .await?;
        state.wake.notify_waiters();
        let mut messages = Vec::with_capacity(queued.ids.len());
        for id in &queued.ids {
            messages.push(state.store.get_message(*id).await?);
        }
        let body = created_body(
            &messages,
            &queued.decision,
            &queued.profile,
            &queued.findings,
        );
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    };

    // The admin token is the only credential today; a per-agent credential would join the scope.
    let scope = format!("POST /api/v1/conversations/{id}/messages admin");
    let request_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    if let Some(stored) = state.store.stored_response(&scope, key, now).await? {
        return replay(stored, &request_hash);
    }
    let prepared = state
        .composer()
        .prepare(ConversationId(id), draft, now)
        .await?;
    let outcome = state
        .store
        .enqueue_once(
            &prepared.items,
            IdempotencyKey {
                scope: &scope,
                key,
                request_hash: &request_hash,
            },
            now,
            |messages| {
                let body = created_body(
                    messages,
                    &prepared.decision,
                    &prepared.profile,
                    &prepared.findings,
                );
                (StatusCode::CREATED.as_u16(), body.to_string())
            },
        )
        .await?;
    match outcome {
        Idempotent::Created(stored) => {
            state.wake.notify_waiters();
            replay(stored, &request_hash)
        }
        Idempotent::Replay(stored) => replay(stored, &request_hash),
    }
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

/// The stored first response, byte for byte — if it answered this very request.
fn replay(stored: StoredResponse, request_hash: &str) -> ApiResult<Response> {
    if stored.request_hash != request_hash {
        return Err(ApiError::Unprocessable {
            code: "idempotency_key_reused",
            message: "this Idempotency-Key was used for a different request body".into(),
            details: json!({}),
        });
    }
    let status = StatusCode::from_u16(stored.status).map_err(|_| ApiError::Internal)?;
    Ok((
        status,
        [(header::CONTENT_TYPE, "application/json")],
        stored.body,
    )
        .into_response())
}

fn created_body(
    messages: &[MessageRow],
    decision: &impl serde::Serialize,
    profile: &str,
    findings: &impl serde::Serialize,
) -> Value {
    json!({
        "message": messages.first(),
        "messages": messages,
        "policy": { "decision": decision, "profile": profile },
        "lint": findings,
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
    _: Admin,
    State(state): State<AppState>,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<Value>> {
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
