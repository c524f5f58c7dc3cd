//! The Bot API calls we make and Telegram error classification.

use std::fmt;
use std::time::Duration;

use reqwest::multipart::Form;
use serde::Serialize;
use serde_json::{Value, json};
use switchboard_domain::{OutgoingMessage, SendError, SendErrorClass, SendReceipt, TelegramChatId};

use super::rich;
use crate::error;
use crate::json::{at, i64_at, id_at, str_at, u64_at};
use crate::media::{Delivered, MediaSet, file_part};

/// How much longer than the long-poll timeout we wait for `getUpdates`, so Telegram's empty
/// answer at the end of the poll arrives before our own timeout fires.
const LONG_POLL_MARGIN: Duration = Duration::from_secs(15);

/// A Bot API client for one bot. Cheap to clone (reqwest's client is shared).
#[derive(Clone)]
pub struct TelegramClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bot token must never reach a log line, even through `{:?}`.
        f.debug_struct("TelegramClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct GetUpdates {
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
    timeout: u32,
}

#[derive(Serialize)]
struct SetWebhook<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_token: Option<&'a str>,
}

#[derive(Serialize)]
struct AnswerCallbackQuery<'a> {
    callback_query_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

impl TelegramClient {
    /// `api_url` is the server root, e.g. `https://api.telegram.org`; methods are called at
    /// `{api_url}/bot<token>/<method>`.
    pub fn new(http: reqwest::Client, api_url: &str, bot_token: &str) -> Self {
        TelegramClient {
            http,
            base: api_url.trim_end_matches('/').to_owned(),
            token: bot_token.to_owned(),
        }
    }

    /// `sendMessage` with `{"chat_id":..,"text":..}`; the receipt carries the new `message_id`.
    pub async fn send_text(
        &self,
        chat: TelegramChatId,
        text: &str,
    ) -> Result<SendReceipt, SendError> {
        self.send_message(chat, &OutgoingMessage::text(text), &MediaSet::new())
            .await
            .map(SendReceipt::from)
    }

    /// Sends one rich message with exactly one Bot API call (`sendMessage`, `sendPhoto`,
    /// `sendVideo`, `sendAudio` or `sendDocument`; see the `rich` module for the rendering).
    ///
    /// A media item given as [`MediaInput::File`](crate::MediaInput::File) is uploaded in the
    /// same call (multipart); its `file_id`, like that of one Telegram fetched from a
    /// [`MediaInput::PublicUrl`](crate::MediaInput::PublicUrl), comes back in
    /// [`Delivered::learned`]. Callers split carousels first
    /// (`OutgoingMessage::split_for(ChannelKind::Telegram)`); several cards, media missing from
    /// `media` or a keyboard conflict are refused as permanent `BadRequest`s before any request.
    pub async fn send_message(
        &self,
        chat: TelegramChatId,
        message: &OutgoingMessage,
        media: &MediaSet,
    ) -> Result<Delivered, SendError> {
        let rich::Rendered {
            method,
            mut params,
            upload,
            learn,
        } = rich::render(message, media)?;
        params.insert("chat_id".into(), Value::from(chat.0));
        let request = self.request(method, None);
        let request = match upload {
            None => request.json(&params),
            Some(file) => {
                // Multipart values are strings: JSON-serialised where the Bot API wants JSON
                // (`reply_markup`), plain otherwise.
                let mut form = Form::new();
                for (name, value) in params {
                    let text = match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    form = form.text(name, text);
                }
                let part = file_part(file.bytes, file.filename, file.mime_type);
                request.multipart(form.part(file.field, part))
            }
        };
        let result = self.execute(method, request).await?;
        let Some(platform_message_id) = id_at(&result, &["message_id"]) else {
            // `ok:true` means it was sent; without the id we cannot record it, and re-sending
            // would duplicate it.
            return Err(SendError::transport(
                format!("{method} success without a message_id"),
                false,
            ));
        };
        let learned = learn
            .and_then(|(media_id, field)| {
                rich::sent_file_id(&result, field).map(|file_id| (media_id, file_id))
            })
            .into_iter()
            .collect();
        Ok(Delivered {
            platform_message_id,
            learned,
        })
    }

    /// `getUpdates` long poll; returns the raw updates (parse each with
    /// [`parse_update_value`](super::parse_update_value), confirm with `offset` = last
    /// [`update_id`](super::update_id) + 1). The HTTP timeout of this call is the poll timeout
    /// plus a margin, overriding the client's default.
    pub async fn get_updates(
        &self,
        offset: Option<i64>,
        timeout_secs: u32,
    ) -> Result<Vec<Value>, SendError> {
        let http_timeout = Duration::from_secs(u64::from(timeout_secs)) + LONG_POLL_MARGIN;
        let body = GetUpdates {
            offset,
            timeout: timeout_secs,
        };
        match self.call("getUpdates", &body, Some(http_timeout)).await? {
            Value::Array(updates) => Ok(updates),
            _ => Err(SendError::transport(
                "getUpdates result is not an array",
                false,
            )),
        }
    }

    /// `setWebhook`; `secret_token` comes back in `X-Telegram-Bot-Api-Secret-Token`.
    pub async fn set_webhook(
        &self,
        url: &str,
        secret_token: Option<&str>,
    ) -> Result<(), SendError> {
        self.call("setWebhook", &SetWebhook { url, secret_token }, None)
            .await
            .map(drop)
    }

    /// `setMyCommands`: the bot's command menu, `(command, description)` pairs.
    pub async fn set_my_commands(&self, commands: &[(String, String)]) -> Result<(), SendError> {
        let commands: Vec<Value> = commands
            .iter()
            .map(|(command, description)| json!({ "command": command, "description": description }))
            .collect();
        self.call("setMyCommands", &json!({ "commands": commands }), None)
            .await
            .map(drop)
    }

    /// `setMyDescription`: what a person sees in an empty chat with the bot, per two-letter
    /// language (`None`: the default). An empty text removes it.
    pub async fn set_my_description(
        &self,
        description: &str,
        language_code: Option<&str>,
    ) -> Result<(), SendError> {
        let mut body = json!({ "description": description });
        if let Some(lang) = language_code {
            body["language_code"] = json!(lang);
        }
        self.call("setMyDescription", &body, None).await.map(drop)
    }

    /// `deleteWebhook`, keeping pending updates so a switch to polling loses nothing.
    pub async fn delete_webhook(&self) -> Result<(), SendError> {
        self.call("deleteWebhook", &json!({}), None).await.map(drop)
    }

    /// `getMe`: the bot's own User object (checks the token, gives the username for deep links).
    pub async fn get_me(&self) -> Result<Value, SendError> {
        self.call("getMe", &json!({}), None).await
    }

    /// `sendChatAction` with `typing` (shown for up to 5 s, D2). Telegram has no read receipts
    /// for bots, so there is no counterpart of Messenger's `mark_seen`.
    pub async fn send_typing(&self, chat_id: i64) -> Result<(), SendError> {
        self.call(
            "sendChatAction",
            &json!({ "chat_id": chat_id, "action": "typing" }),
            None,
        )
        .await
        .map(drop)
    }

    /// `answerCallbackQuery`, which stops the spinner on the button the person tapped.
    pub async fn answer_callback_query(
        &self,
        callback_query_id: &str,
        text: Option<&str>,
    ) -> Result<(), SendError> {
        let body = AnswerCallbackQuery {
            callback_query_id,
            text,
        };
        self.call("answerCallbackQuery", &body, None)
            .await
            .map(drop)
    }

    /// POSTs `body` as JSON to `method` and returns `result` of an `ok:true` answer, or a
    /// classified error.
    async fn call(
        &self,
        method: &str,
        body: &impl Serialize,
        timeout: Option<Duration>,
    ) -> Result<Value, SendError> {
        let request = self.request(method, timeout).json(body);
        self.execute(method, request).await
    }

    /// A POST to `method`, without a body yet.
    fn request(&self, method: &str, timeout: Option<Duration>) -> reqwest::RequestBuilder {
        let url = format!("{}/bot{}/{}", self.base, self.token, method);
        let request = self.http.post(url);
        match timeout {
            Some(timeout) => request.timeout(timeout),
            None => request,
        }
    }

    /// Sends a built request and returns `result` of an `ok:true` answer, or a classified error.
    async fn execute(
        &self,
        method: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Value, SendError> {
        let response = request
            .send()
            .await
            .map_err(|e| error::transport(e, &self.token))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| error::transport(e, &self.token))?;
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();

        match json
            .as_ref()
            .and_then(|j| at(j, &["ok"]))
            .and_then(Value::as_bool)
        {
            Some(true) => Ok(json
                .and_then(|mut j| j.get_mut("result").map(Value::take))
                .unwrap_or(Value::Null)),
            Some(false) => {
                let answer = json.unwrap_or(Value::Null);
                let code = i64_at(&answer, &["error_code"]);
                let description = str_at(&answer, &["description"]).unwrap_or_default();
                let retry_after = u64_at(&answer, &["parameters", "retry_after"]);
                // "Bad Request: group chat was upgraded to a supergroup chat" is the one 400 that
                // Telegram marks numerically: the old chat id will never work again.
                let migrated_to = i64_at(&answer, &["parameters", "migrate_to_chat_id"]);
                let class = match migrated_to {
                    Some(_) => SendErrorClass::InvalidRecipient,
                    None => classify_telegram_error(status, code),
                };
                let mut detail = format!("Telegram {method}: HTTP {status}: {description}");
                if let Some(new_id) = migrated_to {
                    detail.push_str(&format!(" (migrate_to_chat_id {new_id})"));
                }
                Err(error::platform(
                    class,
                    code,
                    None,
                    retry_after,
                    &detail,
                    &self.token,
                ))
            }
            None if (200..300).contains(&status) || status >= 500 => {
                // An unreadable success, or a proxy's 5xx page: the call may have taken effect.
                Err(error::unreadable(
                    &format!("Telegram {method}"),
                    status,
                    &bytes,
                    &self.token,
                ))
            }
            None => Err(error::platform(
                classify_telegram_error(status, None),
                None,
                None,
                None,
                &format!(
                    "Telegram {method}: HTTP {status}: {}",
                    error::snippet(&bytes)
                ),
                &self.token,
            )),
        }
    }
}

/// Classifies a Bot API failure by `error_code` (falling back to the HTTP status), never by the
/// description text.
///
/// "Bad Request: chat not found" would be `InvalidRecipient`, but Telegram gives it the same
/// `error_code` 400 as every other bad request and no numeric detail, so telling it apart would
/// mean matching text. A 400 is therefore `BadRequest`; the client upgrades the one numerically
/// marked 400 (`parameters.migrate_to_chat_id`, the chat became a supergroup) to
/// `InvalidRecipient`.
pub fn classify_telegram_error(http_status: u16, error_code: Option<i64>) -> SendErrorClass {
    use SendErrorClass::*;
    match error_code.unwrap_or(i64::from(http_status)) {
        // Flood control; `parameters.retry_after` says how long to wait.
        429 => RateLimited,
        // The bot was blocked by the user, the user is deactivated, or the bot was kicked.
        403 => RecipientUnavailable,
        // The token was revoked or is wrong.
        401 => AuthBroken,
        // Telegram's side failed; a retry may succeed.
        500..=599 => Transient,
        // 400 (see above), 409 (webhook/getUpdates conflict: a configuration problem, not
        // something a retry of the same call fixes), 404, and anything else.
        _ => BadRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SendErrorClass::*;

    #[test]
    fn telegram_codes_map_to_classes() {
        let cases = [
            (429, Some(429), RateLimited),
            (403, Some(403), RecipientUnavailable),
            (401, Some(401), AuthBroken),
            (400, Some(400), BadRequest),
            (409, Some(409), BadRequest),
            (404, Some(404), BadRequest),
            (500, Some(500), Transient),
            (502, None, Transient),
            (429, None, RateLimited),
            (200, Some(403), RecipientUnavailable),
        ];
        for (status, code, want) in cases {
            assert_eq!(
                classify_telegram_error(status, code),
                want,
                "{status} {code:?}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_bot_token() {
        let client = TelegramClient::new(
            crate::http_client(),
            "https://api.example",
            "123:secret-token",
        );
        let rendered = format!("{client:?}");
        assert!(!rendered.contains("secret-token"), "{rendered}");
    }
}
