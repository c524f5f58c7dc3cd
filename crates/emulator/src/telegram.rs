//! The Bot API subset: `/bot<token>/<method>`, method names case-insensitive,
//! parameters from query, urlencoded form, JSON or multipart.

use std::sync::Arc;

use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::Platform;
use crate::params::{self, Mode, Uploads, get_bool, get_i64, get_json, get_str};
use crate::server::{ApiRequest, FaultOutcome, apply_faults, drop_connection, finish};
use crate::state::{
    ALNUM, Bot, BotState, CHAT_BURST, CHAT_RATE, GLOBAL_BURST, GLOBAL_RATE, Inner, StoredFile,
    random_string,
};
use crate::telegram_format::{Formatted, format};
use crate::telegram_updates;

/// Canonical spelling of every method the emulator implements.
/// Every Bot API method the emulator answers (others get 404 "method not found").
pub const TELEGRAM_METHODS: &[&str] = &[
    "getMe",
    "sendMessage",
    "sendPhoto",
    "sendVideo",
    "sendAudio",
    "sendDocument",
    "sendVoice",
    "sendChatAction",
    "answerCallbackQuery",
    "editMessageText",
    "editMessageReplyMarkup",
    "sendMediaGroup",
    "copyMessage",
    "getChat",
    "getFile",
    "setMessageReaction",
    "deleteMessage",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "getUpdates",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setMyDescription",
    "getMyDescription",
];

const CHAT_ACTIONS: &[&str] = &[
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
];

/// A Bot API error: HTTP status = `code`.
#[derive(Debug, Clone)]
pub(crate) struct TgErr {
    pub code: i64,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl TgErr {
    pub fn new(code: i64, description: impl Into<String>) -> Self {
        TgErr {
            code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// 400 with the `Bad Request: ` prefix.
    pub fn bad(what: impl std::fmt::Display) -> Self {
        TgErr::new(400, format!("Bad Request: {what}"))
    }
}

pub(crate) fn error_body(code: i64, description: &str, retry_after: Option<u64>) -> Value {
    let mut v = json!({ "ok": false, "error_code": code, "description": description });
    if let Some(s) = retry_after {
        v["parameters"] = json!({ "retry_after": s });
    }
    v
}

pub(crate) fn ok(result: Value) -> Value {
    json!({ "ok": true, "result": result })
}

type R = Result<Value, TgErr>;

pub(crate) async fn handle(inner: &Arc<Inner>, req: ApiRequest) -> Response {
    let rest = &req.path["/bot".len()..];
    let (token, raw_method) = match rest.split_once('/') {
        Some((t, m)) => (params::percent_decode(t), m.trim_end_matches('/')),
        None => (params::percent_decode(rest), ""),
    };
    let canonical = TELEGRAM_METHODS
        .iter()
        .copied()
        .find(|m| m.eq_ignore_ascii_case(raw_method));
    let method = canonical.map_or_else(|| raw_method.to_owned(), str::to_owned);
    let mut files = params::Uploads::new();
    let parsed = params::parse(
        req.query.as_deref(),
        req.content_type.as_deref(),
        &req.body,
        Mode::Telegram,
        Some(&mut files),
    );
    let raw_request = |parsed: Result<Map<String, Value>, String>| match parsed {
        Ok(p) => Value::Object(p),
        Err(_) => json!({ "raw_body": String::from_utf8_lossy(&req.body) }),
    };
    let fail = |parsed, status: u16, body: Value| {
        finish(
            inner,
            Platform::Telegram,
            method.clone(),
            token.clone(),
            raw_request(parsed),
            status,
            body,
        )
    };

    let Some(bot) = inner.bot(&token) else {
        return fail(parsed, 401, error_body(401, "Unauthorized", None));
    };
    let Some(canonical) = canonical else {
        let desc = if raw_method.is_empty() {
            "Not Found"
        } else {
            "Not Found: method not found"
        };
        return fail(parsed, 404, error_body(404, desc, None));
    };
    match apply_faults(inner, Platform::Telegram, canonical).await {
        FaultOutcome::Proceed => {}
        FaultOutcome::Respond(status, body) => return fail(parsed, status, body),
        FaultOutcome::Drop => {
            let request = raw_request(parsed);
            return drop_connection(inner, Platform::Telegram, method, token, request, req.kill)
                .await;
        }
    }
    let result = match &parsed {
        Err(_) => Err(TgErr::bad("can't parse JSON encoded request")),
        Ok(p) => dispatch(inner, &bot, canonical, p, &files).await,
    };
    let (status, body) = match result {
        Ok(body) => (200, body),
        Err(e) => (
            u16::try_from(e.code).unwrap_or(500),
            error_body(e.code, &e.description, e.retry_after),
        ),
    };
    let request = raw_request(parsed);
    finish(
        inner,
        Platform::Telegram,
        method,
        token,
        request,
        status,
        body,
    )
}

async fn dispatch(
    inner: &Arc<Inner>,
    bot: &Arc<Bot>,
    method: &str,
    p: &Map<String, Value>,
    files: &Uploads,
) -> R {
    match method {
        "getMe" => Ok(ok(get_me(bot))),
        "sendMessage" => send(inner, bot, p, files, Content::Text).map(ok),
        "sendPhoto" => send(inner, bot, p, files, Content::Media("photo")).map(ok),
        "sendVideo" => send(inner, bot, p, files, Content::Media("video")).map(ok),
        "sendAudio" => send(inner, bot, p, files, Content::Media("audio")).map(ok),
        "sendDocument" => send(inner, bot, p, files, Content::Media("document")).map(ok),
        "sendVoice" => send(inner, bot, p, files, Content::Media("voice")).map(ok),
        "sendChatAction" => chat_action(bot, p).map(ok),
        "answerCallbackQuery" => answer_callback(bot, p).map(ok),
        "editMessageText" => edit_text(inner, bot, p).map(ok),
        "editMessageReplyMarkup" => edit_reply_markup(bot, p).map(ok),
        "sendMediaGroup" => send_media_group(inner, bot, p, files).map(ok),
        "getFile" => get_file(bot, p).map(ok),
        "copyMessage" => copy_message(inner, bot, p).map(ok),
        "getChat" => get_chat(bot, p).map(ok),
        "setMessageReaction" => set_reaction(bot, p).map(ok),
        "deleteMessage" => delete_message(bot, p).map(ok),
        "setWebhook" => telegram_updates::set_webhook(inner, bot, p),
        "deleteWebhook" => Ok(telegram_updates::delete_webhook(bot, p)),
        "getWebhookInfo" => Ok(telegram_updates::webhook_info_ok(inner, bot)),
        "getUpdates" => telegram_updates::get_updates(inner, bot, p).await.map(ok),
        "setMyCommands" => set_commands(bot, p).map(ok),
        "setMyDescription" => set_description(bot, p).map(ok),
        "getMyDescription" => {
            let lang = p.get("language_code").and_then(Value::as_str).unwrap_or("");
            let description = bot
                .lock()
                .descriptions
                .get(lang)
                .cloned()
                .unwrap_or_default();
            Ok(ok(json!({ "description": description })))
        }
        "getMyCommands" => Ok(ok(bot.lock().commands.clone())),
        "deleteMyCommands" => {
            bot.lock().commands = Value::Array(Vec::new());
            Ok(ok(Value::Bool(true)))
        }
        _ => Err(TgErr::new(404, "Not Found: method not found")),
    }
}

fn get_me(bot: &Bot) -> Value {
    json!({
        "id": bot.bot_id,
        "is_bot": true,
        "first_name": bot.spec.first_name,
        "username": bot.spec.username,
        "can_join_groups": true,
        "can_read_all_group_messages": false,
        "supports_inline_queries": false,
        "can_connect_to_business": false,
        "has_main_web_app": false,
    })
}

enum Content {
    Text,
    /// The parameter name (`photo`, `video`, ...), also the Message field.
    Media(&'static str),
}

fn chat_id(p: &Map<String, Value>) -> Result<i64, TgErr> {
    match get_i64(p, "chat_id") {
        None => Err(TgErr::bad("chat_id is empty")),
        Some(Ok(id)) => Ok(id),
        // `@channelusername` and garbage: no such chat in the emulator.
        Some(Err(())) => Err(TgErr::bad("chat not found")),
    }
}

/// Text after parse_mode handling and trimming, with its entities, checked against `max`.
fn visible(
    p: &Map<String, Value>,
    key: &str,
    max: usize,
    empty_ok: bool,
) -> Result<Formatted, TgErr> {
    let raw = get_str(p, key).unwrap_or_default();
    let mode = get_str(p, "parse_mode");
    let explicit = match get_json(p, entities_key(key)) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(())) => return Err(TgErr::bad("can't parse entities JSON object")),
    };
    // Telegram strips surrounding whitespace before checking emptiness.
    let formatted =
        format(&raw, mode.as_deref(), explicit.as_ref()).map_err(|d| TgErr::new(400, d))?;
    let text = &formatted.text;
    if text.is_empty() && !empty_ok {
        return Err(TgErr::bad("message text is empty"));
    }
    if text.chars().count() > max {
        return Err(TgErr::bad(if key == "caption" {
            "message caption is too long"
        } else {
            "message is too long"
        }));
    }
    Ok(formatted)
}

/// Where a text's entities go: `entities` for `text`, `caption_entities` for `caption`.
fn entities_key(text_key: &str) -> &'static str {
    if text_key == "caption" {
        "caption_entities"
    } else {
        "entities"
    }
}

/// Sets `text`/`caption` and, when there are any, `entities`/`caption_entities` on a Message.
fn put_text(msg: &mut Value, key: &str, formatted: Formatted) {
    msg[key] = Value::String(formatted.text);
    let entities = entities_key(key);
    if formatted.entities.is_empty() {
        if let Some(o) = msg.as_object_mut() {
            o.remove(entities);
        }
    } else {
        msg[entities] = Value::Array(formatted.entities);
    }
}

const INLINE_ACTIONS: &[&str] = &[
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
];

fn reply_markup(p: &Map<String, Value>) -> Result<Option<Value>, TgErr> {
    let markup = match get_json(p, "reply_markup") {
        None => return Ok(None),
        Some(Err(())) => return Err(TgErr::bad("can't parse reply keyboard markup JSON object")),
        Some(Ok(v)) => v,
    };
    let Some(obj) = markup.as_object() else {
        return Err(TgErr::bad("can't parse reply keyboard markup JSON object"));
    };
    if let Some(rows) = obj.get("inline_keyboard") {
        let rows = rows.as_array().ok_or_else(|| {
            TgErr::bad(
                "can't parse inline keyboard button: field \"inline_keyboard\" must be an Array",
            )
        })?;
        let mut total = 0;
        for row in rows {
            let row = row.as_array().ok_or_else(|| {
                TgErr::bad(
                    "can't parse inline keyboard button: InlineKeyboardButton row must be an Array",
                )
            })?;
            for b in row {
                total += 1;
                validate_inline_button(b)?;
            }
        }
        if total > 100 {
            return Err(TgErr::bad("reply markup is too long"));
        }
        return Ok(Some(markup));
    }
    if let Some(rows) = obj.get("keyboard") {
        let ok = rows.as_array().is_some_and(|rows| {
            rows.iter().all(|r| {
                r.as_array().is_some_and(|r| {
                    r.iter()
                        .all(|b| b.is_string() || b.get("text").is_some_and(Value::is_string))
                })
            })
        });
        if !ok {
            return Err(TgErr::bad(
                "can't parse keyboard button: field \"text\" must be of type String",
            ));
        }
        return Ok(Some(markup));
    }
    if obj.get("remove_keyboard").and_then(Value::as_bool) == Some(true)
        || obj.get("force_reply").and_then(Value::as_bool) == Some(true)
    {
        return Ok(Some(markup));
    }
    Err(TgErr::bad("can't parse reply keyboard markup JSON object"))
}

fn validate_inline_button(b: &Value) -> Result<(), TgErr> {
    if !b.get("text").is_some_and(Value::is_string) {
        return Err(TgErr::bad(
            "can't parse inline keyboard button: Field \"text\" must be of type String",
        ));
    }
    let actions: Vec<&str> = INLINE_ACTIONS
        .iter()
        .copied()
        .filter(|k| b.get(*k).is_some())
        .collect();
    match actions.as_slice() {
        [] => Err(TgErr::bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        )),
        ["callback_data"] => match b.get("callback_data") {
            Some(Value::String(s)) if (1..=64).contains(&s.len()) => Ok(()),
            _ => Err(TgErr::bad("BUTTON_DATA_INVALID")),
        },
        ["url"] => match b.get("url").and_then(Value::as_str) {
            Some(u)
                if u.starts_with("http://")
                    || u.starts_with("https://")
                    || u.starts_with("tg://") =>
            {
                Ok(())
            }
            _ => Err(TgErr::bad("BUTTON_URL_INVALID")),
        },
        ["copy_text"] => match b
            .get("copy_text")
            .and_then(|c| c.get("text"))
            .and_then(Value::as_str)
        {
            Some(t) if (1..=256).contains(&t.chars().count()) => Ok(()),
            _ => Err(TgErr::bad(
                "can't parse inline keyboard button: copy_text must have text of 1-256 characters",
            )),
        },
        [_] => Ok(()),
        _ => Err(TgErr::bad(
            "can't parse inline keyboard button: exactly one of the optional fields must be used",
        )),
    }
}

fn new_file_id(st: &mut BotState, kind: &str) -> (String, String) {
    st.file_seq += 1;
    let prefix = match kind {
        "photo" => "AgACAgIAAxkBAAI",
        "video" => "BAACAgIAAxkBAAI",
        "audio" => "CQACAgIAAxkBAAI",
        "voice" => "AwACAgIAAxkBAAI",
        _ => "BQACAgIAAxkBAAI",
    };
    (
        format!("{prefix}{}{}", st.file_seq, random_string(40, ALNUM)),
        format!("AQAD{}", random_string(12, ALNUM)),
    )
}

/// The Message field for a sent file. Reusing a file_id echoes it; a URL or an
/// upload gets a fresh id, registered for getFile (with the bytes of an upload).
fn media_object(
    st: &mut BotState,
    kind: &str,
    source: &Value,
    p: &Map<String, Value>,
    files: &Uploads,
) -> Value {
    let (file_id, unique) = match source.as_str() {
        Some(s)
            if !(s.starts_with("http://")
                || s.starts_with("https://")
                || s.starts_with("attach://")) =>
        {
            let unique = st.files.get(s).map_or_else(
                || format!("AQAD{}", random_string(12, ALNUM)),
                |f| f.unique_id.clone(),
            );
            (s.to_owned(), unique)
        }
        _ => new_file_id(st, kind),
    };
    let bytes = source
        .get("sha256")
        .and_then(Value::as_str)
        .and_then(|k| files.get(k))
        .cloned();
    let known = st.files.get(&file_id).cloned();
    let size = bytes
        .as_ref()
        .map(|b| b.len() as u64)
        .or_else(|| source.get("size").and_then(Value::as_u64))
        .or(known.as_ref().map(|f| f.size))
        .unwrap_or(48_213);
    let bytes = bytes.or_else(|| known.and_then(|f| f.bytes));
    let file_name = source
        .get("filename")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            source
                .as_str()
                .and_then(|s| s.rsplit('/').next())
                .filter(|n| n.contains('.'))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "file.bin".to_owned());
    let register = |st: &mut BotState, id: &str, unique: &str, size: u64| {
        let n = st.files.len();
        st.files.entry(id.to_owned()).or_insert_with(|| StoredFile {
            unique_id: unique.to_owned(),
            size,
            path: format!("{}/file_{n}.{}", folder(kind), extension(kind, &file_name)),
            bytes: bytes.clone(),
        });
    };
    let num = |k: &str, d: i64| get_i64(p, k).and_then(Result::ok).unwrap_or(d);
    match kind {
        "photo" => {
            // Telegram keeps the original (at most 2560 px on its longer side) and smaller
            // copies; an upload's real dimensions decide which exist.
            let original = bytes.as_deref().and_then(image_size).unwrap_or((800, 600));
            let sizes = photo_sizes(original);
            let largest = sizes.last().map_or(1, |(w, h)| w * h).max(1);
            let out = sizes
                .iter()
                .enumerate()
                .map(|(i, (w, h))| {
                    let last = i + 1 == sizes.len();
                    let id = if last { file_id.clone() } else { format!("{file_id}-{i}") };
                    let part_size = if last { size } else { (size * w * h / largest).max(1) };
                    let unique = format!("{unique}{i}");
                    register(st, &id, &unique, part_size);
                    json!({ "file_id": id, "file_unique_id": unique, "file_size": part_size, "width": w, "height": h })
                })
                .collect();
            return Value::Array(out);
        }
        _ => register(st, &file_id, &unique, size),
    }
    match kind {
        "video" => json!({
            "file_id": file_id, "file_unique_id": unique, "file_size": size,
            "width": num("width", 1280), "height": num("height", 720), "duration": num("duration", 10),
            "mime_type": "video/mp4", "file_name": file_name,
        }),
        "audio" => {
            let mut a = json!({
                "file_id": file_id, "file_unique_id": unique, "file_size": size,
                "duration": num("duration", 30), "mime_type": "audio/mpeg", "file_name": file_name,
            });
            for k in ["title", "performer"] {
                if let Some(v) = get_str(p, k) {
                    a[k] = Value::String(v);
                }
            }
            a
        }
        "voice" => json!({
            "file_id": file_id, "file_unique_id": unique, "file_size": size,
            "duration": num("duration", 3), "mime_type": "audio/ogg",
        }),
        _ => json!({
            "file_id": file_id, "file_unique_id": unique, "file_size": size,
            "file_name": file_name,
            "mime_type": source.get("content_type").and_then(Value::as_str).unwrap_or("application/octet-stream"),
        }),
    }
}

/// The file a media parameter names: a file id or URL string, an upload, or `attach://<part>`
/// pointing at an upload in another multipart part.
fn media_source(p: &Map<String, Value>, value: Option<&Value>, kind: &str) -> Result<Value, TgErr> {
    match value {
        Some(Value::String(s)) if s.trim().starts_with("attach://") => {
            let part = s.trim().trim_start_matches("attach://");
            p.get(part)
                .filter(|v| params::is_upload(v))
                .cloned()
                .ok_or_else(|| TgErr::bad(format_args!("there is no {kind} in the request")))
        }
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Value::String(s.trim().to_owned())),
        Some(v) if params::is_upload(v) => Ok(v.clone()),
        _ => Err(TgErr::bad(format_args!(
            "there is no {kind} in the request"
        ))),
    }
}

fn send(inner: &Inner, bot: &Bot, p: &Map<String, Value>, files: &Uploads, content: Content) -> R {
    let chat_id = chat_id(p)?;
    // Parameters are validated before the chat is resolved, as the real
    // server parses the whole request first.
    let markup = reply_markup(p)?;
    let (text, media) = match content {
        Content::Text => (Some(visible(p, "text", 4096, false)?), None),
        Content::Media(kind) => {
            let source = media_source(p, p.get(kind), kind)?;
            let caption = visible(p, "caption", 1024, true)?;
            (
                Some(caption).filter(|c| !c.text.is_empty()),
                Some((kind, source)),
            )
        }
    };
    let outgoing = Outgoing::from_params(p)?;
    let mut guard = bot.lock();
    let st = &mut *guard;
    let mut msg = open_messages(inner, bot, st, chat_id, &outgoing, 1)?
        .pop()
        .unwrap_or_default();
    match (media, text) {
        (None, Some(t)) => put_text(&mut msg, "text", t),
        (Some((kind, source)), caption) => {
            msg[kind] = media_object(st, kind, &source, p, files);
            if let Some(c) = caption {
                put_text(&mut msg, "caption", c);
            }
        }
        (None, None) => {}
    }
    let reply_keyboard = markup
        .as_ref()
        .filter(|m| m.get("keyboard").is_some())
        .cloned();
    if let Some(m) = markup.filter(|m| m.get("inline_keyboard").is_some()) {
        // Only inline keyboards are echoed back on the Message.
        msg["reply_markup"] = m;
    }
    remember_sent(st, chat_id, &msg, reply_keyboard);
    Ok(msg)
}

/// What every sending method shares: a paid broadcast skips the limits; a reply target.
struct Outgoing {
    paid: bool,
    reply: Option<Reply>,
}

impl Outgoing {
    fn from_params(p: &Map<String, Value>) -> Result<Self, TgErr> {
        Ok(Outgoing {
            paid: get_bool(p, "allow_paid_broadcast"),
            reply: reply_parameters(p)?,
        })
    }
}

/// Checks the chat (known, not blocking the bot), the reply target and the rate limits for
/// `count` messages, and gives `count` new messages with their ids, sender, chat and date.
fn open_messages(
    inner: &Inner,
    bot: &Bot,
    st: &mut BotState,
    chat_id: i64,
    outgoing: &Outgoing,
    count: usize,
) -> Result<Vec<Value>, TgErr> {
    let now = inner.clock.now_ms();
    let chat = st
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| TgErr::bad("chat not found"))?;
    if chat.blocked {
        return Err(TgErr::new(403, "Forbidden: bot was blocked by the user"));
    }
    let reply_to = match &outgoing.reply {
        None => None,
        Some(r) => match chat.find_message(r.message_id) {
            Some(m) => {
                // The replied-to message comes without its own reply, as on Telegram.
                let mut m = m.clone();
                if let Some(o) = m.as_object_mut() {
                    o.remove("reply_to_message");
                }
                Some(m)
            }
            None if r.without_reply_ok => None,
            None => return Err(TgErr::bad("message to be replied not found")),
        },
    };
    if inner.config.telegram_rate_limits && !outgoing.paid {
        let n = count as f64;
        chat.bucket.refill(CHAT_BURST, CHAT_RATE, now);
        st.global_bucket.refill(GLOBAL_BURST, GLOBAL_RATE, now);
        let wait = chat
            .bucket
            .wait_secs_for(n, CHAT_RATE)
            .max(st.global_bucket.wait_secs_for(n, GLOBAL_RATE));
        if wait > 0 {
            return Err(TgErr {
                code: 429,
                description: format!("Too Many Requests: retry after {wait}"),
                retry_after: Some(wait),
            });
        }
        chat.bucket.take_n(n);
        st.global_bucket.take_n(n);
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let mut msg = json!({
            "message_id": chat.take_message_id(),
            "from": bot.user_json(),
            "chat": chat.chat_json(),
            "date": now / 1000,
        });
        if let Some(m) = &reply_to {
            msg["reply_to_message"] = m.clone();
        }
        out.push(msg);
    }
    Ok(out)
}

/// Keeps a sent message for edits, deletes, replies and copies (bounded per chat).
fn remember_sent(st: &mut BotState, chat_id: i64, msg: &Value, reply_keyboard: Option<Value>) {
    if let Some(chat) = st.chats.get_mut(&chat_id) {
        chat.remember_sent(msg, reply_keyboard);
    }
}

const MEDIA_GROUP_TYPES: &[&str] = &["photo", "video", "document", "audio"];

/// `sendMediaGroup`: 2–10 photos and videos (or only documents, or only audio) as one album.
fn send_media_group(inner: &Inner, bot: &Bot, p: &Map<String, Value>, files: &Uploads) -> R {
    let chat_id = chat_id(p)?;
    let items = match get_json(p, "media") {
        Some(Ok(Value::Array(a))) => a,
        _ => return Err(TgErr::bad("can't parse media JSON object")),
    };
    if !(2..=10).contains(&items.len()) {
        return Err(TgErr::bad(
            "wrong number of media specified: must be between 2 and 10",
        ));
    }
    let mut parsed = Vec::with_capacity(items.len());
    for item in &items {
        let Some(obj) = item.as_object() else {
            return Err(TgErr::bad("can't parse InputMedia JSON object"));
        };
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
        let Some(kind) = MEDIA_GROUP_TYPES.iter().copied().find(|k| *k == kind) else {
            return Err(TgErr::bad("unsupported media type in media group"));
        };
        let source = media_source(p, obj.get("media"), kind)?;
        let caption = visible(obj, "caption", 1024, true)?;
        parsed.push((kind, source, caption));
    }
    let documents = parsed.iter().filter(|(k, ..)| *k == "document").count();
    let audio = parsed.iter().filter(|(k, ..)| *k == "audio").count();
    if (documents > 0 && documents < parsed.len()) || (audio > 0 && audio < parsed.len()) {
        return Err(TgErr::bad(
            "document and audio can't be mixed with other media types",
        ));
    }
    let outgoing = Outgoing::from_params(p)?;
    let mut guard = bot.lock();
    let st = &mut *guard;
    let mut messages = open_messages(inner, bot, st, chat_id, &outgoing, parsed.len())?;
    st.file_seq += 1;
    let group = format!(
        "{}{}",
        13_000_000_000_000_000u64 + st.file_seq,
        random_string(2, b"0123456789")
    );
    for (msg, (kind, source, caption)) in messages.iter_mut().zip(parsed) {
        msg[kind] = media_object(st, kind, &source, p, files);
        msg["media_group_id"] = json!(group);
        if !caption.text.is_empty() {
            put_text(msg, "caption", caption);
        }
        remember_sent(st, chat_id, msg, None);
    }
    Ok(Value::Array(messages))
}

/// `copyMessage`: the same content as a new message of the bot, without a link to the
/// original; answers only the new `message_id`.
fn copy_message(inner: &Inner, bot: &Bot, p: &Map<String, Value>) -> R {
    let chat_id = chat_id(p)?;
    let from_chat_id = match get_i64(p, "from_chat_id") {
        Some(Ok(id)) => id,
        None => return Err(TgErr::bad("from_chat_id is empty")),
        Some(Err(())) => return Err(TgErr::bad("chat not found")),
    };
    let message_id = message_id_param(p)?;
    let markup = reply_markup(p)?;
    let caption = match p.get("caption") {
        Some(_) => Some(visible(p, "caption", 1024, true)?),
        None => None,
    };
    let outgoing = Outgoing::from_params(p)?;
    let mut guard = bot.lock();
    let st = &mut *guard;
    let original = st
        .chats
        .get(&from_chat_id)
        .ok_or_else(|| TgErr::bad("chat not found"))?
        .find_message(message_id)
        .cloned()
        .ok_or_else(|| TgErr::bad("message to copy not found"))?;
    const CONTENT: &[&str] = &[
        "text",
        "entities",
        "photo",
        "video",
        "audio",
        "document",
        "voice",
        "caption",
        "caption_entities",
    ];
    if !["text", "photo", "video", "audio", "document", "voice"]
        .iter()
        .any(|k| original.get(k).is_some())
    {
        return Err(TgErr::bad("message can't be copied"));
    }
    let mut msg = open_messages(inner, bot, st, chat_id, &outgoing, 1)?
        .pop()
        .unwrap_or_default();
    for k in CONTENT {
        if let Some(v) = original.get(*k) {
            msg[*k] = v.clone();
        }
    }
    if let Some(c) = caption {
        put_text(&mut msg, "caption", c);
    }
    if let Some(m) = markup.filter(|m| m.get("inline_keyboard").is_some()) {
        msg["reply_markup"] = m;
    }
    remember_sent(st, chat_id, &msg, None);
    Ok(json!({ "message_id": msg["message_id"] }))
}

/// `editMessageReplyMarkup`: a new inline keyboard (or none) on one of the bot's messages.
fn edit_reply_markup(bot: &Bot, p: &Map<String, Value>) -> R {
    if get_str(p, "inline_message_id").is_some() {
        return Err(TgErr::bad("MESSAGE_ID_INVALID"));
    }
    let chat_id = chat_id(p)?;
    let message_id = message_id_param(p)?;
    let markup = reply_markup(p)?.filter(|m| m.get("inline_keyboard").is_some());
    let mut st = bot.lock();
    let chat = st
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| TgErr::bad("chat not found"))?;
    let sent = chat
        .recent
        .iter_mut()
        .find(|m| m.message_id == message_id)
        .ok_or_else(|| TgErr::bad("message to edit not found"))?;
    let msg = &mut sent.message;
    if msg.get("reply_markup") == markup.as_ref() {
        return Err(TgErr::bad(NOT_MODIFIED));
    }
    set_inline_keyboard(msg, markup);
    Ok(msg.clone())
}

const NOT_MODIFIED: &str = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message";

/// An edit's keyboard: an inline keyboard replaces the message's, anything else removes it.
fn set_inline_keyboard(msg: &mut Value, markup: Option<Value>) {
    match markup.filter(|m| m.get("inline_keyboard").is_some()) {
        Some(m) => msg["reply_markup"] = m,
        None => {
            if let Some(o) = msg.as_object_mut() {
                o.remove("reply_markup");
            }
        }
    }
}

/// `getChat`: the private chat with a user, as a ChatFullInfo.
fn get_chat(bot: &Bot, p: &Map<String, Value>) -> R {
    let chat_id = chat_id(p)?;
    let st = bot.lock();
    let chat = st
        .chats
        .get(&chat_id)
        .ok_or_else(|| TgErr::bad("chat not found"))?;
    let mut info = chat.chat_json();
    info["accent_color_id"] = json!(chat_id.rem_euclid(7));
    info["max_reaction_count"] = json!(11);
    Ok(info)
}

/// The emoji a bot may react with (Bot API ReactionTypeEmoji).
const REACTION_EMOJI: &[&str] = &[
    "👍",
    "👎",
    "❤",
    "🔥",
    "🥰",
    "👏",
    "😁",
    "🤔",
    "🤯",
    "😱",
    "🤬",
    "😢",
    "🎉",
    "🤩",
    "🤮",
    "💩",
    "🙏",
    "👌",
    "🕊",
    "🤡",
    "🥱",
    "🥴",
    "😍",
    "🐳",
    "❤‍🔥",
    "🌚",
    "🌭",
    "💯",
    "🤣",
    "⚡",
    "🍌",
    "🏆",
    "💔",
    "🤨",
    "😐",
    "🍓",
    "🍾",
    "💋",
    "🖕",
    "😈",
    "😴",
    "😭",
    "🤓",
    "👻",
    "👨‍💻",
    "👀",
    "🎃",
    "🙈",
    "😇",
    "😨",
    "🤝",
    "✍",
    "🤗",
    "🫡",
    "🎅",
    "🎄",
    "☃",
    "💅",
    "🤪",
    "🗿",
    "🆒",
    "💘",
    "🙉",
    "🦄",
    "😘",
    "💊",
    "🙊",
    "😎",
    "👾",
    "🤷‍♂",
    "🤷",
    "🤷‍♀",
    "😡",
];

/// `setMessageReaction`: at most one emoji reaction from a bot on a message of the chat.
fn set_reaction(bot: &Bot, p: &Map<String, Value>) -> R {
    let chat_id = chat_id(p)?;
    let message_id = message_id_param(p)?;
    let reactions = match get_json(p, "reaction") {
        None => Vec::new(),
        Some(Ok(Value::Array(a))) => a,
        Some(_) => return Err(TgErr::bad("can't parse reaction types JSON object")),
    };
    if reactions.len() > 1 {
        return Err(TgErr::bad("REACTIONS_TOO_MANY"));
    }
    for r in &reactions {
        let ok = match r.get("type").and_then(Value::as_str) {
            Some("emoji") => r
                .get("emoji")
                .and_then(Value::as_str)
                .is_some_and(|e| REACTION_EMOJI.contains(&e)),
            Some("custom_emoji" | "paid") => false,
            _ => return Err(TgErr::bad("can't parse reaction types JSON object")),
        };
        if !ok {
            return Err(TgErr::bad("REACTION_INVALID"));
        }
    }
    let mut st = bot.lock();
    let chat = st
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| TgErr::bad("chat not found"))?;
    let Some(found) = chat
        .recent
        .iter_mut()
        .chain(chat.received.iter_mut())
        .find(|m| m.message_id == message_id)
    else {
        return Err(TgErr::bad("message to react not found"));
    };
    found.message["bot_reaction"] = Value::Array(reactions);
    Ok(Value::Bool(true))
}

struct Reply {
    message_id: i64,
    without_reply_ok: bool,
}

/// `reply_parameters` (Bot API 7.0), or the older `reply_to_message_id`.
fn reply_parameters(p: &Map<String, Value>) -> Result<Option<Reply>, TgErr> {
    let legacy_ok = get_bool(p, "allow_sending_without_reply");
    match get_json(p, "reply_parameters") {
        Some(Err(())) => Err(TgErr::bad("can't parse reply parameters JSON object")),
        Some(Ok(v)) => {
            let Some(message_id) = v.get("message_id").and_then(Value::as_i64) else {
                return Err(TgErr::bad(
                    "can't parse reply parameters JSON object: Field \"message_id\" must be of type Number",
                ));
            };
            let without_reply_ok = v
                .get("allow_sending_without_reply")
                .and_then(Value::as_bool)
                .unwrap_or(legacy_ok);
            Ok(Some(Reply {
                message_id,
                without_reply_ok,
            }))
        }
        None => match get_i64(p, "reply_to_message_id") {
            None => Ok(None),
            Some(Err(())) => Err(TgErr::bad("message to be replied not found")),
            Some(Ok(message_id)) => Ok(Some(Reply {
                message_id,
                without_reply_ok: legacy_ok,
            })),
        },
    }
}

/// Where getFile puts a file of this kind, as the Bot API does (`photos/file_3.jpg`).
fn folder(kind: &str) -> &'static str {
    match kind {
        "photo" => "photos",
        "video" => "videos",
        "audio" => "music",
        "voice" => "voice",
        _ => "documents",
    }
}

fn extension(kind: &str, file_name: &str) -> String {
    match kind {
        "photo" => "jpg".to_owned(),
        "voice" => "oga".to_owned(),
        _ => file_name
            .rsplit_once('.')
            .map_or_else(|| "bin".to_owned(), |(_, e)| e.to_ascii_lowercase()),
    }
}

/// The sizes Telegram keeps of a photo: copies that fit 90, 320, 800 and 1280 px where the
/// original is larger, and the original itself scaled to fit 2560 px.
fn photo_sizes((w, h): (u64, u64)) -> Vec<(u64, u64)> {
    let fit = |limit: u64| {
        let long = w.max(h).max(1);
        if long <= limit {
            (w, h)
        } else {
            ((w * limit / long).max(1), (h * limit / long).max(1))
        }
    };
    let long = w.max(h);
    let mut sizes: Vec<(u64, u64)> = [90, 320, 800, 1280]
        .into_iter()
        .filter(|limit| long > *limit)
        .map(fit)
        .collect();
    sizes.push(fit(2560));
    sizes
}

/// Width and height from a PNG, GIF, JPEG or WebP header.
fn image_size(b: &[u8]) -> Option<(u64, u64)> {
    let be16 = |i: usize| Some(u64::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?])));
    let le16 = |i: usize| Some(u64::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?])));
    let be32 = |i: usize| {
        Some(u64::from(u32::from_be_bytes(
            b.get(i..i + 4)?.try_into().ok()?,
        )))
    };
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some((be32(16)?, be32(20)?));
    }
    if b.starts_with(b"GIF8") {
        return Some((le16(6)?, le16(8)?));
    }
    if b.starts_with(b"RIFF") && b.get(8..12) == Some(b"WEBP") {
        return match b.get(12..16)? {
            b"VP8X" => {
                let le24 = |i: usize| -> Option<u64> {
                    Some(
                        u64::from(*b.get(i)?)
                            | u64::from(*b.get(i + 1)?) << 8
                            | u64::from(*b.get(i + 2)?) << 16,
                    )
                };
                Some((le24(24)? + 1, le24(27)? + 1))
            }
            b"VP8 " => Some((le16(26)? & 0x3fff, le16(28)? & 0x3fff)),
            b"VP8L" => {
                let v = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
                Some((u64::from(v & 0x3fff) + 1, u64::from((v >> 14) & 0x3fff) + 1))
            }
            _ => None,
        };
    }
    if b.starts_with(&[0xff, 0xd8]) {
        // Walk the JPEG segments to the first start-of-frame.
        let mut i = 2;
        while i + 9 < b.len() {
            if b[i] != 0xff {
                return None;
            }
            let marker = b[i + 1];
            if matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
                return Some((be16(i + 7)?, be16(i + 5)?));
            }
            i += 2 + usize::try_from(be16(i + 2)?).ok()?;
        }
    }
    None
}

/// Files over 20 MB cannot be downloaded by bots.
const MAX_DOWNLOAD: u64 = 20 * 1024 * 1024;

/// `getFile`: where a known file can be downloaded.
fn get_file(bot: &Bot, p: &Map<String, Value>) -> R {
    let id = get_str(p, "file_id").unwrap_or_default();
    if id.is_empty() {
        return Err(TgErr::bad("file_id is empty"));
    }
    let st = bot.lock();
    let file = st
        .files
        .get(&id)
        .ok_or_else(|| TgErr::bad("invalid file_id"))?;
    if file.size > MAX_DOWNLOAD {
        return Err(TgErr::bad("file is too big"));
    }
    Ok(json!({
        "file_id": id,
        "file_unique_id": file.unique_id,
        "file_size": file.size,
        "file_path": file.path,
    }))
}

/// `GET /file/bot<token>/<file_path>`: an uploaded file's bytes.
pub(crate) fn download(inner: &Inner, path: &str) -> Response {
    let not_found = || crate::server::json_response(404, &error_body(404, "Not Found", None));
    let Some((token, file_path)) = path
        .strip_prefix("/file/bot")
        .and_then(|rest| rest.split_once('/'))
    else {
        return not_found();
    };
    let Some(bot) = inner.bot(&params::percent_decode(token)) else {
        return crate::server::json_response(401, &error_body(401, "Unauthorized", None));
    };
    let st = bot.lock();
    let Some(bytes) = st
        .files
        .values()
        .find(|f| f.path == file_path)
        .and_then(|f| f.bytes.clone())
    else {
        return not_found();
    };
    let mut resp = Response::new(axum::body::Body::from(bytes));
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    resp
}

fn chat_action(bot: &Bot, p: &Map<String, Value>) -> R {
    let chat_id = chat_id(p)?;
    let action = get_str(p, "action").unwrap_or_default();
    if !CHAT_ACTIONS.contains(&action.as_str()) {
        return Err(TgErr::bad("wrong parameter action in request"));
    }
    let st = bot.lock();
    let chat = st
        .chats
        .get(&chat_id)
        .ok_or_else(|| TgErr::bad("chat not found"))?;
    if chat.blocked {
        return Err(TgErr::new(403, "Forbidden: bot was blocked by the user"));
    }
    Ok(Value::Bool(true))
}

fn answer_callback(bot: &Bot, p: &Map<String, Value>) -> R {
    let id = get_str(p, "callback_query_id").unwrap_or_default();
    if get_str(p, "text").is_some_and(|t| t.chars().count() > 200) {
        return Err(TgErr::bad("MESSAGE_TOO_LONG"));
    }
    let mut st = bot.lock();
    match st.callback_queries.get_mut(&id) {
        Some(answered) if !*answered => {
            *answered = true;
            Ok(Value::Bool(true))
        }
        _ => Err(TgErr::bad(
            "query is too old and response timeout expired or query ID is invalid",
        )),
    }
}

fn message_id_param(p: &Map<String, Value>) -> Result<i64, TgErr> {
    match get_i64(p, "message_id") {
        Some(Ok(id)) => Ok(id),
        Some(Err(())) => Err(TgErr::bad("message_id is invalid")),
        None => Err(TgErr::bad("message_id is empty")),
    }
}

fn edit_text(inner: &Inner, bot: &Bot, p: &Map<String, Value>) -> R {
    if get_str(p, "inline_message_id").is_some() {
        return Err(TgErr::bad("MESSAGE_ID_INVALID"));
    }
    let chat_id = chat_id(p)?;
    let message_id = message_id_param(p)?;
    let text = visible(p, "text", 4096, false)?;
    let markup = reply_markup(p)?;
    let now = inner.clock.now_ms();
    let mut st = bot.lock();
    let chat = st
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| TgErr::bad("chat not found"))?;
    if chat.blocked {
        return Err(TgErr::new(403, "Forbidden: bot was blocked by the user"));
    }
    let sent = chat
        .recent
        .iter_mut()
        .find(|m| m.message_id == message_id)
        .ok_or_else(|| TgErr::bad("message to edit not found"))?;
    let msg = &mut sent.message;
    if msg.get("text").is_none() {
        return Err(TgErr::bad("there is no text in the message to edit"));
    }
    if msg.get("text").and_then(Value::as_str) == Some(text.text.as_str())
        && msg
            .get("entities")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
            == text.entities.as_slice()
        && msg.get("reply_markup") == markup.as_ref()
    {
        return Err(TgErr::bad(NOT_MODIFIED));
    }
    put_text(msg, "text", text);
    msg["edit_date"] = json!(now / 1000);
    set_inline_keyboard(msg, markup);
    Ok(msg.clone())
}

fn delete_message(bot: &Bot, p: &Map<String, Value>) -> R {
    let chat_id = chat_id(p)?;
    let message_id = message_id_param(p)?;
    let mut st = bot.lock();
    let chat = st
        .chats
        .get_mut(&chat_id)
        .ok_or_else(|| TgErr::bad("chat not found"))?;
    let before = chat.recent.len();
    chat.recent.retain(|m| m.message_id != message_id);
    if chat.recent.len() == before {
        return Err(TgErr::bad("message to delete not found"));
    }
    Ok(Value::Bool(true))
}

fn set_commands(bot: &Bot, p: &Map<String, Value>) -> R {
    let commands = match get_json(p, "commands") {
        Some(Ok(Value::Array(a))) => a,
        _ => return Err(TgErr::bad("can't parse commands JSON object")),
    };
    if commands.len() > 100 {
        return Err(TgErr::bad("too many commands"));
    }
    for c in &commands {
        let name = c.get("command").and_then(Value::as_str).unwrap_or("");
        let desc = c.get("description").and_then(Value::as_str).unwrap_or("");
        let name_ok = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(TgErr::bad("BOT_COMMAND_INVALID"));
        }
        if !(1..=256).contains(&desc.chars().count()) {
            return Err(TgErr::bad("command description must be non-empty"));
        }
    }
    bot.lock().commands = Value::Array(commands);
    Ok(Value::Bool(true))
}

/// `setMyDescription(description 0–512, language_code?)`: shown in an empty chat with the bot.
fn set_description(bot: &Bot, p: &Map<String, Value>) -> R {
    let description = p.get("description").and_then(Value::as_str).unwrap_or("");
    if description.chars().count() > 512 {
        return Err(TgErr::bad("description is too long"));
    }
    let lang = p.get("language_code").and_then(Value::as_str).unwrap_or("");
    let two_letters = lang.len() == 2 && lang.bytes().all(|b| b.is_ascii_lowercase());
    if !lang.is_empty() && !two_letters {
        return Err(TgErr::bad("invalid language code"));
    }
    let mut st = bot.lock();
    if description.is_empty() {
        st.descriptions.remove(lang);
    } else {
        st.descriptions
            .insert(lang.to_owned(), description.to_owned());
    }
    Ok(Value::Bool(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_dimensions_from_jpeg_gif_and_webp_headers() {
        // JPEG: SOI, an APP0 segment, then SOF0 with height 480 and width 640.
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00];
        jpeg.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 0x08, 0x01, 0xe0, 0x02, 0x80, 0x03]);
        jpeg.extend_from_slice(&[0u8; 16]);
        assert_eq!(image_size(&jpeg), Some((640, 480)));
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&[0x2c, 0x01, 0xc8, 0x00, 0, 0, 0]);
        assert_eq!(image_size(&gif), Some((300, 200)));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X".to_vec();
        webp.extend_from_slice(&[0u8; 8]);
        webp.extend_from_slice(&[0x1f, 0x03, 0x00, 0x57, 0x02, 0x00]); // 800 x 600, minus one
        assert_eq!(image_size(&webp), Some((800, 600)));
        assert_eq!(image_size(b"not an image"), None);
        assert_eq!(photo_sizes((3000, 1500)).last(), Some(&(2560, 1280)));
    }

    fn markup(v: Value) -> Result<Option<Value>, TgErr> {
        let mut p = Map::new();
        p.insert("reply_markup".into(), Value::String(v.to_string()));
        reply_markup(&p)
    }

    #[test]
    fn inline_buttons() {
        let kb = |data: &str| json!({"inline_keyboard": [[{"text": "x", "callback_data": data}]]});
        assert!(markup(kb(&"a".repeat(64))).is_ok());
        let e = markup(kb(&"a".repeat(65))).expect_err("65 bytes");
        assert_eq!(e.description, "Bad Request: BUTTON_DATA_INVALID");
        // 22 three-byte characters = 66 bytes although only 22 chars.
        assert!(markup(kb(&"€".repeat(22))).is_err());
        assert!(markup(kb("")).is_err());
        assert!(markup(json!({"inline_keyboard": [[{"text": "x"}]]})).is_err());
        assert!(markup(json!({"remove_keyboard": true})).is_ok());
    }
}
