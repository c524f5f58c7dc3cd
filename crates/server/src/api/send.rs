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
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::template::{Template, Variables};
use switchboard_domain::{AuthorKind, ChannelKind, ConversationId, Millis, OutgoingMessage};
use switchboard_lint::Severity;
use switchboard_storage::Lane;

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

pub async fn send(
    _: Admin,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
    let queued = state
        .composer()
        .queue(ConversationId(id), draft, Millis::now())
        .await?;
    state.wake.notify_waiters();
    let mut messages = Vec::with_capacity(queued.ids.len());
    for id in &queued.ids {
        messages.push(state.store.get_message(*id).await?);
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "message": messages.first(),
            "messages": messages,
            "policy": { "decision": queued.decision, "profile": queued.profile },
            "lint": queued.findings,
        })),
    ))
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
