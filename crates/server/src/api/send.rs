//! One way to say something to a customer: `POST /api/v1/conversations/{id}/messages`, and the
//! checks it runs, also offered alone as `POST /api/v1/lint`.
//!
//! Order of checks: the template must parse and name only known variables; the rendered text
//! must fit the platform; lint errors block (warnings come back with the result); the channel's
//! policy profile must allow the send — a refusal names its rule. Only then is the message
//! queued, with the messaging type and tag the policy chose.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::policy::{
    ChannelFacts, ContactFacts, MessagingType, PolicyDecision, PolicyProfile, SendIntent, decide,
};
use switchboard_domain::template::{PersonalisationContext, Template, TemplateError, Variables};
use switchboard_domain::{AuthorKind, ChannelKind, Content, ConversationId, Millis};
use switchboard_lint::{Finding, LintContext, Severity};
use switchboard_storage::{Lane, OutgoingDraft, OutgoingItem};

use super::parse_json;
use crate::app::{AppState, Id};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};

/// Bulk sends older than this cannot matter to any shipped frequency cap.
const BULK_HISTORY_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The message, with `{{placeholders}}`.
    text: String,
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
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: SendRequest = parse_json(&body)?;
    let now = Millis::now();
    let ctx = state
        .store
        .send_context(ConversationId(id), now.plus_millis(-BULK_HISTORY_MS))
        .await?;
    let channel = state.registry.get(ctx.conversation.channel_id).await?;
    let kind = channel.record.kind;

    let template =
        Template::parse_checked(&req.text, &Variables::builtins()).map_err(template_errors)?;
    let personal = PersonalisationContext {
        first_name: ctx.contact.first_name.clone(),
        last_name: ctx.contact.last_name.clone(),
        channel_name: channel.record.name.clone(),
        attributes: BTreeMap::new(),
    };
    let text = template
        .render_within(&personal, kind)
        .map_err(|e| ApiError::Invalid {
            field: "text",
            message: e.to_string(),
        })?;

    let language = req.language.clone().or_else(|| ctx.contact.locale.clone());
    let findings = lint(
        &state,
        text.as_str().to_owned(),
        LintContext {
            language,
            channel: kind,
            promotional: req.promotional,
        },
    )
    .await?;
    if findings.iter().any(|f| f.severity == Severity::Error) {
        return Err(ApiError::Unprocessable {
            code: "lint_failed",
            message: "the message has errors that block sending".into(),
            details: json!({ "findings": findings }),
        });
    }

    let profile = PolicyProfile::builtin_for(kind, now).ok_or(ApiError::Internal)?;
    let facts = match kind {
        // Permissions are not configurable per channel yet: assume neither (the safe answer).
        ChannelKind::Messenger => ChannelFacts::messenger(false, false),
        ChannelKind::Telegram => ChannelFacts::telegram(),
    };
    let mut intent = SendIntent::reply(facts, AuthorKind::Agent).with_promotional(req.promotional);
    if let Some(tag) = &req.tag {
        intent = intent.with_tag(tag.clone());
    }
    let contact = ContactFacts {
        last_window_action_at: ctx.contact.last_window_action_at,
        last_message_at: ctx.last_inbound_at,
        reachable: ctx.contact.reachable,
        subscribed: true,
        recent_bulk_sends: ctx.recent_bulk.clone(),
    };
    let decision = decide(&profile, &intent, &contact, now);
    let messaging_type = match &decision {
        PolicyDecision::Deny { rule, explanation } => {
            return Err(ApiError::Unprocessable {
                code: "policy_denied",
                message: explanation.clone(),
                details: json!({ "rule": rule, "profile": profile.label() }),
            });
        }
        PolicyDecision::Allow {
            messaging_type,
            tag,
        } => stored_messaging_type(*messaging_type, tag.as_deref()),
    };

    let draft = OutgoingDraft {
        content: Content::text(text),
        author: AuthorKind::Agent,
        lane: Lane::Reply,
        messaging_type,
    };
    let ids = state
        .store
        .enqueue(&[OutgoingItem {
            conversation_id: ctx.conversation.id,
            draft,
        }])
        .await?;
    state.wake.notify_waiters();
    let message = state.store.get_message(ids[0]).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "message": message, "policy": { "decision": decision, "profile": profile.label() }, "lint": findings }),
        ),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LintRequest {
    text: String,
    channel: ChannelKind,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    promotional: bool,
}

/// `POST /api/v1/lint`: template errors and lint findings for a draft, without sending.
pub async fn lint_endpoint(
    _: Admin,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let req: LintRequest = parse_json(&body)?;
    let template_errors = match Template::parse_checked(&req.text, &Variables::builtins()) {
        Ok(_) => Vec::new(),
        Err(errors) => errors,
    };
    let findings = lint(
        &state,
        req.text,
        LintContext {
            language: req.language,
            channel: req.channel,
            promotional: req.promotional,
        },
    )
    .await?;
    let blocking =
        !template_errors.is_empty() || findings.iter().any(|f| f.severity == Severity::Error);
    Ok(Json(
        json!({ "ok": !blocking, "template_errors": template_errors, "findings": findings }),
    ))
}

/// Spell checking takes tens of milliseconds when it suggests: keep it off the async workers.
async fn lint(state: &AppState, text: String, ctx: LintContext) -> ApiResult<Vec<Finding>> {
    let linter = state.linter.clone();
    tokio::task::spawn_blocking(move || linter.lint(&text, &ctx))
        .await
        .map_err(|_| ApiError::Internal)
}

fn template_errors(errors: Vec<TemplateError>) -> ApiError {
    ApiError::Unprocessable {
        code: "invalid_template",
        message: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        details: json!({ "field": "text", "errors": errors }),
    }
}

/// How the outbox row records the policy's choice (read back by the dispatcher).
fn stored_messaging_type(messaging_type: MessagingType, tag: Option<&str>) -> Option<String> {
    match (messaging_type.graph_value(), tag) {
        (Some("MESSAGE_TAG"), Some(tag)) => Some(format!("MESSAGE_TAG:{tag}")),
        (value, _) => value.map(str::to_owned),
    }
}
