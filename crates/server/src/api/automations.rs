//! `/api/v1/channels/{id}/automations` (the whole document) and its parts `/flows`, `/rules` and
//! `/faq`. Every save validates the whole document (errors point at the field), declares the
//! attributes flows and rules write, stores it, and syncs what the platform shows before a
//! conversation starts (Messenger Get Started, greeting and ice breakers; Telegram description
//! and commands).

use std::collections::BTreeSet;

use crate::body::LimitedBody;
use axum::Json;
use axum::extract::State;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use switchboard_automation::FieldError;
use switchboard_automation::config::{BACK_AT, ChannelAutomations, GET_STARTED_PAYLOAD};
use switchboard_automation::flow::Node;
use switchboard_automation::rules::Action;
use switchboard_channels::messenger::PageProfile;
use switchboard_domain::ChannelId;
use switchboard_domain::template::{AttributeKey, PersonalisationContext, Template, Variables};
use switchboard_lint::Severity;

use super::parse_json;
use crate::app::{AppState, Id};
use crate::auth::ActorOf;
use crate::compose::{FieldFinding, personalise};
use crate::error::{ApiError, ApiResult};
use crate::registry::{LiveChannel, PlatformClient};
use switchboard_service::{Actor, Permission};

pub async fn get_all(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Value>> {
    actor.require(Permission::ManageAutomations)?;
    let channel = state.registry.reload(ChannelId(id)).await?;
    let stored = state.store.get_automations(ChannelId(id)).await?;
    Ok(Json(json!({
        "automations": &*channel.automations,
        "version": stored.as_ref().map(|s| s.version),
        "saved": stored.is_some(),
    })))
}

pub async fn put_all(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<Value>> {
    actor.require(Permission::ManageAutomations)?;
    let config: ChannelAutomations = parse_json(&body)?;
    save(&actor, &state, ChannelId(id), config).await
}

/// A part of the document: read it, or replace it and save the whole.
macro_rules! part {
    ($get:ident, $put:ident, $field:ident) => {
        pub async fn $get(
            ActorOf(actor): ActorOf,
            State(state): State<AppState>,
            Id(id): Id,
        ) -> ApiResult<Json<Value>> {
            actor.require(Permission::ManageAutomations)?;
            let channel = state.registry.reload(ChannelId(id)).await?;
            Ok(Json(json!(channel.automations.$field)))
        }

        pub async fn $put(
            ActorOf(actor): ActorOf,
            State(state): State<AppState>,
            Id(id): Id,
            LimitedBody(body): LimitedBody,
        ) -> ApiResult<Json<Value>> {
            actor.require(Permission::ManageAutomations)?;
            let channel = state.registry.reload(ChannelId(id)).await?;
            let mut config = (*channel.automations).clone();
            config.$field = parse_part(&body)?;
            save(&actor, &state, ChannelId(id), config).await
        }
    };
}

part!(get_flows, put_flows, flows);
part!(get_rules, put_rules, rules);
part!(get_faq, put_faq, faq);

fn parse_part<T: DeserializeOwned>(body: &axum::body::Bytes) -> ApiResult<T> {
    parse_json(body)
}

async fn save(
    actor: &Actor,
    state: &AppState,
    channel_id: ChannelId,
    config: ChannelAutomations,
) -> ApiResult<Json<Value>> {
    actor.require(Permission::ManageAutomations)?;
    let channel = state.registry.reload(channel_id).await?;
    let errors = config.validate();
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    // Attributes flows capture and rules set become usable in templates.
    let mut keys: BTreeSet<String> = channel.record.attribute_keys.iter().cloned().collect();
    keys.extend(written_attributes(&config));
    let keys: Vec<String> = keys.into_iter().collect();
    let findings = check_texts(state, &channel, &config, &keys).await?;
    if keys != channel.record.attribute_keys {
        state.store.set_attribute_keys(channel_id, &keys).await?;
    }
    let json = serde_json::to_string(&config).map_err(|_| ApiError::Internal)?;
    let first_save = state.store.get_automations(channel_id).await?.is_none();
    let secret = new_secret()?;
    let version = state
        .store
        .put_automations(channel_id, &json, &secret)
        .await?;
    let live = state.registry.reload(channel_id).await?;
    let sync = sync_presentation(&live).await;
    let mut body = json!({
        "automations": &*live.automations,
        "version": version,
        "sync": sync,
        "lint": findings,
    });
    if first_save {
        // Shown once, like an API key: it signs the outgoing webhooks of `call_webhook` actions.
        body["webhook_secret"] = json!(secret);
    }
    Ok(Json(body))
}

/// Every message the automations can send: its templates must name only known variables (an
/// unknown one is an error now, never a literal `{{…}}` in a chat later), and its texts are
/// linted in their locale's language — errors block the save, warnings come back with it.
async fn check_texts(
    state: &AppState,
    channel: &LiveChannel,
    config: &ChannelAutomations,
    attribute_keys: &[String],
) -> ApiResult<Vec<FieldFinding>> {
    let variables = Variables::with_attributes(
        attribute_keys
            .iter()
            .filter_map(|k| AttributeKey::parse(k).ok()),
    );
    let composer = state.composer();
    let mut errors = Vec::new();
    let mut findings = Vec::new();
    for (path, locale, message) in config.messages() {
        // The away message's `{{back_at}}` is filled by the engine, not a template variable.
        let message = message
            .map_texts(|_, t| Ok::<_, ()>(t.replace(BACK_AT, "tomorrow at 09:00")))
            .unwrap_or_else(|_| message.clone());
        let mut parsed = true;
        for (field, text) in message.visible_texts() {
            if let Err(template_errors) = Template::parse_checked(text, &variables) {
                parsed = false;
                errors.push(FieldError::new(
                    format!("{path}.{field}"),
                    template_errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ));
            }
        }
        if !parsed {
            continue;
        }
        // Linted as a person without a name would see it: fallbacks filled in.
        let Ok(rendered) = personalise(&message, &variables, &PersonalisationContext::default())
        else {
            continue;
        };
        let language = (locale != "default").then(|| locale.to_owned());
        for mut f in composer
            .lint(&rendered, channel.record.kind, language, false)
            .await?
        {
            f.field = format!("{path}.{}", f.field);
            findings.push(f);
        }
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    if findings
        .iter()
        .any(|f| f.finding.severity == Severity::Error)
    {
        return Err(ApiError::Unprocessable {
            code: "lint_failed",
            message: "an automatic message has errors that block saving".into(),
            details: json!({ "findings": findings }),
        });
    }
    Ok(findings)
}

fn invalid(errors: Vec<FieldError>) -> ApiError {
    let first = errors.first().map(ToString::to_string).unwrap_or_default();
    ApiError::Unprocessable {
        code: "invalid_automations",
        message: if errors.len() > 1 {
            format!("{first} (and {} more)", errors.len() - 1)
        } else {
            first
        },
        details: json!({ "errors": errors }),
    }
}

fn new_secret() -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|_| ApiError::Internal)?;
    Ok(hex::encode(bytes))
}

fn written_attributes(config: &ChannelAutomations) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for flow in &config.flows {
        for node in flow.nodes.values() {
            match node {
                Node::Ask {
                    capture: Some(c), ..
                } => {
                    keys.insert(c.attribute.clone());
                }
                Node::Act { set_attributes, .. } => keys.extend(set_attributes.keys().cloned()),
                _ => {}
            }
        }
    }
    for rule in &config.rules {
        for action in &rule.actions {
            if let Action::SetAttribute { key, .. } = action {
                keys.insert(key.clone());
            }
        }
    }
    keys
}

/// Pushes greeting, Get Started, ice breakers / description and commands to the platform.
/// A failure is reported, not fatal: the automations are saved either way.
async fn sync_presentation(channel: &LiveChannel) -> Value {
    let config = &channel.automations;
    let offered: Vec<_> = config.faq.entries.iter().filter(|e| e.offer).collect();
    let result = match &channel.client {
        PlatformClient::Messenger(client) => {
            let profile = PageProfile {
                get_started_payload: config
                    .presentation
                    .get_started
                    .then(|| GET_STARTED_PAYLOAD.to_owned()),
                greetings: config
                    .presentation
                    .greeting
                    .iter()
                    .flat_map(|g| g.variants())
                    .map(|(locale, text)| (locale.to_owned(), text.clone()))
                    .collect(),
                ice_breakers: offered
                    .iter()
                    .map(|e| (e.question.default.clone(), format!("FAQ:{}", e.id)))
                    .collect(),
            };
            client.set_page_profile(&profile).await
        }
        PlatformClient::Telegram(client) => {
            let commands: Vec<(String, String)> = offered
                .iter()
                .map(|e| (e.id.clone(), e.question.default.clone()))
                .collect();
            let mut result = client.set_my_commands(&commands).await;
            if let (Ok(()), Some(greeting)) = (&result, &config.presentation.greeting) {
                for (locale, text) in greeting.variants() {
                    let language = (locale != "default").then(|| &locale[..locale.len().min(2)]);
                    result = client.set_my_description(text, language).await;
                    if result.is_err() {
                        break;
                    }
                }
            }
            result
        }
    };
    match result {
        Ok(()) => json!({ "ok": true }),
        Err(e) => {
            tracing::warn!(channel = %channel.record.id, error = %e, "could not sync the channel's presentation");
            json!({ "ok": false, "error": e.to_string() })
        }
    }
}
