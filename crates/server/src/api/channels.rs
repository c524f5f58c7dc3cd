//! `POST/GET /api/v1/channels`.

use crate::body::LimitedBody;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use switchboard_domain::{
    ChannelId, ChannelKind, ChannelSettings, MessageText, MessengerSettings, Millis, RateLimits,
    TelegramReceiveMode, TelegramSettings,
};
use switchboard_storage::{ChannelAlert, ChannelRecord, NewChannel};

use super::parse_json;
use crate::app::{AppState, Id};
use crate::auth::ActorOf;
use crate::error::{ApiError, ApiResult};
use crate::webhooks::webhook_path;

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum CreateChannel {
    Messenger {
        name: String,
        page_id: String,
        page_access_token: String,
        app_secret: String,
        verify_token: String,
        #[serde(default)]
        default_reply: Option<String>,
        #[serde(default)]
        rate_limits: Option<RateLimitsInput>,
        /// Granted by Meta: agents may use the HUMAN_AGENT tag (up to 7 days).
        #[serde(default)]
        human_agent_permission: bool,
        /// Granted by Meta: utility templates outside the window.
        #[serde(default)]
        utility_messaging_permission: bool,
    },
    Telegram {
        name: String,
        bot_token: String,
        secret_token: String,
        #[serde(default)]
        default_reply: Option<String>,
        #[serde(default)]
        receive: TelegramReceiveMode,
        #[serde(default)]
        rate_limits: Option<RateLimitsInput>,
    },
}

/// Per-channel sending limits; omitted means the platform's documented defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsInput {
    per_second: f64,
    #[serde(default)]
    per_recipient_per_second: Option<f64>,
    /// Telegram group chats (negative ids): messages per minute.
    #[serde(default)]
    per_group_per_minute: Option<f64>,
}

fn rate_limits(input: Option<RateLimitsInput>) -> ApiResult<Option<RateLimits>> {
    input
        .map(|r| {
            RateLimits::parse(r.per_second, r.per_recipient_per_second)
                .and_then(|l| l.with_per_group_per_minute(r.per_group_per_minute))
                .ok_or_else(|| {
                    invalid(
                        "rate_limits",
                        "rates are positive numbers of messages per second",
                    )
                })
        })
        .transpose()
}

/// What the API shows of a channel: never a token or secret.
#[derive(Serialize)]
pub struct ChannelView {
    pub id: ChannelId,
    pub kind: ChannelKind,
    pub name: String,
    /// Page id or bot id.
    pub external_id: String,
    pub webhook_path: String,
    pub default_reply: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive: Option<TelegramReceiveMode>,
    /// The sending limits in force (the channel's own or the platform's defaults).
    pub rate_limits: RateLimits,
    /// Custom contact attributes templates may use as `{{attr.<key>}}`.
    pub attribute_keys: Vec<String>,
    /// What Meta allows this page beyond the 24-hour window (Messenger only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<serde_json::Value>,
    /// Something a person must fix (e.g. the platform rejected the credentials), or null.
    pub alert: Option<ChannelAlert>,
    pub created_at: Millis,
}

impl From<&ChannelRecord> for ChannelView {
    fn from(r: &ChannelRecord) -> Self {
        ChannelView {
            id: r.id,
            kind: r.kind,
            name: r.name.clone(),
            external_id: r.external_id.clone(),
            webhook_path: webhook_path(r.kind, r.id),
            default_reply: r.default_reply.clone(),
            receive: match &r.settings {
                ChannelSettings::Telegram(t) => Some(t.receive),
                ChannelSettings::Messenger(_) => None,
            },
            rate_limits: r.settings.rate_limits(),
            attribute_keys: r.attribute_keys.clone(),
            permissions: match &r.settings {
                ChannelSettings::Messenger(m) => Some(serde_json::json!({
                    "human_agent": m.human_agent_permission,
                    "utility_messaging": m.utility_messaging_permission,
                })),
                ChannelSettings::Telegram(_) => None,
            },
            alert: r.alert.clone(),
            created_at: r.created_at,
        }
    }
}

pub async fn create(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    LimitedBody(body): LimitedBody,
) -> ApiResult<(StatusCode, Json<ChannelView>)> {
    actor.require(switchboard_service::Permission::ManageChannels)?;
    let new = validate(parse_json(&body)?)?;
    let live = state.service.connect_channel(&actor, new).await?;
    // Starting its poller or registering its webhook is this process's business, not the
    // service layer's.
    state.channel_added(&live).await;
    Ok((StatusCode::CREATED, Json(ChannelView::from(&live.record))))
}

pub async fn list(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
) -> ApiResult<Json<Vec<ChannelView>>> {
    let channels = state.service.list_channels(&actor).await?;
    Ok(Json(channels.iter().map(ChannelView::from).collect()))
}

fn validate(req: CreateChannel) -> ApiResult<NewChannel> {
    match req {
        CreateChannel::Messenger {
            name,
            page_id,
            page_access_token,
            app_secret,
            verify_token,
            default_reply,
            rate_limits: limits,
            human_agent_permission,
            utility_messaging_permission,
        } => {
            if page_id.is_empty() || !page_id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("page_id", "a page id is a string of digits"));
            }
            Ok(NewChannel {
                name: channel_name(name)?,
                external_id: page_id.clone(),
                default_reply: reply_text(default_reply, ChannelKind::Messenger)?,
                settings: ChannelSettings::Messenger(MessengerSettings {
                    page_id,
                    page_access_token: required("page_access_token", page_access_token)?,
                    app_secret: required("app_secret", app_secret)?,
                    verify_token: required("verify_token", verify_token)?,
                    rate_limits: rate_limits(limits)?,
                    human_agent_permission,
                    utility_messaging_permission,
                }),
            })
        }
        CreateChannel::Telegram {
            name,
            bot_token,
            secret_token,
            default_reply,
            receive,
            rate_limits: limits,
        } => {
            let bot_id = bot_id(&bot_token).ok_or_else(|| {
                invalid(
                    "bot_token",
                    "expected <bot id>:<secret> as given by @BotFather",
                )
            })?;
            let secret_ok = (1..=256).contains(&secret_token.len())
                && secret_token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !secret_ok {
                return Err(invalid(
                    "secret_token",
                    "1 to 256 characters of A-Z, a-z, 0-9, _ and -",
                ));
            }
            Ok(NewChannel {
                name: channel_name(name)?,
                external_id: bot_id,
                default_reply: reply_text(default_reply, ChannelKind::Telegram)?,
                settings: ChannelSettings::Telegram(TelegramSettings {
                    bot_token,
                    secret_token,
                    receive,
                    rate_limits: rate_limits(limits)?,
                }),
            })
        }
    }
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::Invalid {
        field,
        message: message.to_owned(),
    }
}

fn required(field: &'static str, value: String) -> ApiResult<String> {
    if value.trim().is_empty() {
        Err(invalid(field, "must not be empty"))
    } else {
        Ok(value)
    }
}

fn channel_name(name: String) -> ApiResult<String> {
    let name = name.trim().to_owned();
    match name.chars().count() {
        0 => Err(invalid("name", "must not be empty")),
        1..=100 => Ok(name),
        _ => Err(invalid("name", "at most 100 characters")),
    }
}

fn reply_text(text: Option<String>, kind: ChannelKind) -> ApiResult<Option<String>> {
    text.map(|t| {
        MessageText::parse(&t, kind)
            .map(MessageText::into_string)
            .map_err(|e| invalid("default_reply", &e.to_string()))
    })
    .transpose()
}

/// The numeric bot id in front of the colon of a bot token.
fn bot_id(token: &str) -> Option<String> {
    let (id, secret) = token.split_once(':')?;
    let id_ok = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
    let secret_ok = !secret.is_empty()
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (id_ok && secret_ok).then(|| id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bot_tokens_are_parsed_for_their_id() {
        assert_eq!(bot_id("123456:ABC-def_1").as_deref(), Some("123456"));
        assert_eq!(bot_id("abc:def"), None);
        assert_eq!(bot_id("123456"), None);
        assert_eq!(bot_id("123:bad token"), None);
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeKeys {
    keys: Vec<String>,
}

/// `PUT /api/v1/channels/{id}/attribute-keys`: declares the custom contact attributes templates
/// may use (`{{attr.<key>}}`); a template naming any other is refused when composed.
pub async fn set_attribute_keys(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<ChannelView>> {
    actor.require(switchboard_service::Permission::ManageChannels)?;
    let req: AttributeKeys = parse_json(&body)?;
    let live = state
        .service
        .set_attribute_keys(&actor, ChannelId(id), req.keys)
        .await?;
    Ok(Json(ChannelView::from(&live.record)))
}
