//! Telegram `Update` objects → canonical [`InboundEnvelope`]s.
//!
//! The dedupe key is `update:<update_id>`: Telegram retries a webhook delivery (and `getUpdates`
//! returns an unconfirmed update again) with the same `update_id`, and ids are unique per bot.
//!
//! The contact is the chat (`chat.id`, which in a private chat is the person's user id), with
//! names, username and `language_code` taken from `from`, falling back to the chat's own
//! names when there is no `from`.

use serde_json::Value;
use switchboard_domain::{
    Attachment, AttachmentKind, ContactRef, Content, InboundEnvelope, InboundEvent, Millis,
    Referral, TelegramChatId,
};

use crate::json::{array_at, at, f64_at, i64_at, id_at, str_at};

/// The body is not a Telegram update. Anything inside an update we do not understand is an
/// [`InboundEvent::Unknown`], never this error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateParseError {
    #[error("update is not JSON: {0}")]
    NotJson(String),
    #[error("update is not an object with an integer update_id")]
    NotAnUpdate,
}

/// Payload keys we understand, looked for first. An update carries exactly one payload key.
const KNOWN_KEYS: &[&str] = &[
    "message",
    "edited_message",
    "callback_query",
    "my_chat_member",
];

/// `Referral.source` for a `/start <param>` deep link.
const START_SOURCE: &str = "telegram_start";

/// The longest deep-link parameter Telegram accepts (B6).
const START_PARAM_MAX: usize = 64;

/// The `update_id` of a raw update, for confirming `getUpdates` offsets.
pub fn update_id(update: &Value) -> Option<i64> {
    i64_at(update, &["update_id"])
}

/// Parses one webhook body (a single Update).
pub fn parse_update(body: &[u8]) -> Result<InboundEnvelope, UpdateParseError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| UpdateParseError::NotJson(e.to_string()))?;
    parse_update_value(&value)
}

/// Parses one Update already decoded (e.g. an element of `getUpdates`' result).
pub fn parse_update_value(update: &Value) -> Result<InboundEnvelope, UpdateParseError> {
    let id = update_id(update).ok_or(UpdateParseError::NotAnUpdate)?;
    let key = payload_key(update);
    let payload = key.as_deref().and_then(|k| at(update, &[k]));
    let recognised = match (key.as_deref(), payload) {
        (Some("message"), Some(p)) => message(p, false),
        (Some("edited_message"), Some(p)) => message(p, true),
        (Some("callback_query"), Some(p)) => callback_query(p),
        (Some("my_chat_member"), Some(p)) => my_chat_member(p),
        _ => None,
    };
    let (event, contact, occurred_at) = recognised.unwrap_or_else(|| {
        (
            InboundEvent::Unknown {
                platform_kind: key.unwrap_or_else(|| "unrecognised".to_owned()),
                raw: update.clone(),
            },
            payload.and_then(private_chat_contact),
            payload
                .and_then(|p| date(p, "date"))
                .unwrap_or_else(Millis::now),
        )
    });
    Ok(InboundEnvelope {
        dedupe_key: format!("update:{id}"),
        contact,
        occurred_at,
        standby: false,
        event,
    })
}

fn payload_key(update: &Value) -> Option<String> {
    let obj = update.as_object()?;
    KNOWN_KEYS
        .iter()
        .find(|k| obj.contains_key(**k))
        .map(|k| (*k).to_owned())
        .or_else(|| obj.keys().find(|k| k.as_str() != "update_id").cloned())
}

type Recognised = (InboundEvent, Option<ContactRef>, Millis);

fn date(v: &Value, field: &str) -> Option<Millis> {
    i64_at(v, &[field]).map(Millis::from_unix_seconds)
}

/// The chat as a contact, with profile facts from `from` (or the chat itself).
fn contact(chat_id: i64, from: Option<&Value>, chat: Option<&Value>) -> ContactRef {
    let pick = |field: &str| {
        from.and_then(|f| str_at(f, &[field]))
            .or_else(|| chat.and_then(|c| str_at(c, &[field])))
    };
    ContactRef {
        external_id: TelegramChatId(chat_id).into(),
        first_name: pick("first_name"),
        last_name: pick("last_name"),
        username: pick("username"),
        locale: from.and_then(|f| str_at(f, &["language_code"])),
    }
}

/// For kinds we do not model: a contact only when the payload is plainly about one person in a
/// private chat, so groups and channels never turn into contacts by accident.
fn private_chat_contact(payload: &Value) -> Option<ContactRef> {
    let chat = at(payload, &["chat"])?;
    if str_at(chat, &["type"]).as_deref() != Some("private") {
        return None;
    }
    Some(contact(
        i64_at(chat, &["id"])?,
        at(payload, &["from"]),
        Some(chat),
    ))
}

fn message(m: &Value, edited: bool) -> Option<Recognised> {
    let chat = at(m, &["chat"]);
    let chat_id = i64_at(m, &["chat", "id"])?;
    let platform_message_id = id_at(m, &["message_id"])?;
    let text = str_at(m, &["text"]);
    let referral = text.as_deref().and_then(start_param).map(|param| Referral {
        r#ref: Some(param.to_owned()),
        source: START_SOURCE.to_owned(),
        ad_id: None,
        referer_uri: None,
    });
    let content = Content {
        text: text.or_else(|| str_at(m, &["caption"])),
        attachments: attachments(m),
        quick_reply_payload: None,
        reply_to: id_at(m, &["reply_to_message", "message_id"]),
        rich: None,
        persona: None,
    };
    let contact = Some(contact(chat_id, at(m, &["from"]), chat));
    if edited {
        let when = date(m, "edit_date")
            .or_else(|| date(m, "date"))
            .unwrap_or_else(Millis::now);
        return Some((
            InboundEvent::Edit {
                platform_message_id,
                content,
            },
            contact,
            when,
        ));
    }
    let when = date(m, "date").unwrap_or_else(Millis::now);
    Some((
        InboundEvent::Message {
            platform_message_id,
            content,
            referral,
        },
        contact,
        when,
    ))
}

/// The parameter of `/start <param>` or `/start@bot <param>` (a `t.me/<bot>?start=` deep link).
///
/// We match the text rather than the `bot_command` entity: Telegram always puts the command at
/// offset 0 for deep links, and a prefix match also covers clients that omit entities. A
/// parameter that is not 1–64 characters of `[A-Za-z0-9_-]` cannot come from a deep link, so the
/// message is kept without a referral.
fn start_param(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("/start")?;
    let rest = match rest.strip_prefix('@') {
        Some(addressed) => addressed
            .find(char::is_whitespace)
            .and_then(|i| addressed.get(i..))
            .unwrap_or(""),
        None => rest,
    };
    // "/startle" is another command.
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let param = rest.trim();
    let valid = !param.is_empty()
        && param.len() <= START_PARAM_MAX
        && param
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    valid.then_some(param)
}

fn attachments(m: &Value) -> Vec<Attachment> {
    let mut out = Vec::new();
    // PhotoSizes come smallest first; keep the largest. `max_by_key` returns the last of equal
    // maxima, so sizes without dimensions fall back to "last is largest".
    let largest_photo = array_at(m, &["photo"]).iter().max_by_key(|p| {
        let area = i64_at(p, &["width"])
            .unwrap_or(0)
            .saturating_mul(i64_at(p, &["height"]).unwrap_or(0));
        (area, i64_at(p, &["file_size"]).unwrap_or(0))
    });
    if let Some(photo) = largest_photo {
        out.push(file(AttachmentKind::Image, photo, None));
    }
    // An animation (GIF) also arrives as `document`, which covers it.
    if let Some(doc) = at(m, &["document"]) {
        out.push(file(AttachmentKind::File, doc, str_at(doc, &["file_name"])));
    }
    if let Some(video) = at(m, &["video"]) {
        out.push(file(
            AttachmentKind::Video,
            video,
            str_at(video, &["file_name"]),
        ));
    }
    if let Some(note) = at(m, &["video_note"]) {
        out.push(file(AttachmentKind::Video, note, None));
    }
    if let Some(audio) = at(m, &["audio"]) {
        let title = str_at(audio, &["title"]).or_else(|| str_at(audio, &["file_name"]));
        out.push(file(AttachmentKind::Audio, audio, title));
    }
    if let Some(voice) = at(m, &["voice"]) {
        out.push(file(AttachmentKind::Audio, voice, None));
    }
    if let Some(sticker) = at(m, &["sticker"]) {
        out.push(file(
            AttachmentKind::Sticker,
            sticker,
            str_at(sticker, &["emoji"]),
        ));
    }
    // A venue carries its `location` too, so this covers venues.
    if let Some(location) = at(m, &["location"]) {
        let mut a = Attachment::new(AttachmentKind::Location);
        a.latitude = f64_at(location, &["latitude"]);
        a.longitude = f64_at(location, &["longitude"]);
        out.push(a);
    }
    if let Some(shared) = at(m, &["contact"]) {
        let mut a = Attachment::new(AttachmentKind::Contact);
        a.title = str_at(shared, &["phone_number"]);
        out.push(a);
    }
    out
}

fn file(kind: AttachmentKind, f: &Value, title: Option<String>) -> Attachment {
    let mut a = Attachment::new(kind);
    a.platform_ref = str_at(f, &["file_id"]);
    a.mime_type = str_at(f, &["mime_type"]);
    a.title = title;
    a
}

fn callback_query(q: &Value) -> Option<Recognised> {
    let id = str_at(q, &["id"])?;
    // The chat the button was in; an inline-mode query has no message, so fall back to the user.
    let chat_id = i64_at(q, &["message", "chat", "id"]).or_else(|| i64_at(q, &["from", "id"]))?;
    let event = InboundEvent::Postback {
        title: None,
        payload: str_at(q, &["data"]),
        referral: None,
        callback_id: Some(id),
    };
    let contact = contact(chat_id, at(q, &["from"]), at(q, &["message", "chat"]));
    // A callback query has no date of its own (`message.date` is when the button was sent).
    Some((event, Some(contact), Millis::now()))
}

/// Block/unblock. Only private chats: in groups the same update means the bot was added or
/// removed, which is not about one person's reachability.
fn my_chat_member(u: &Value) -> Option<Recognised> {
    let chat = at(u, &["chat"])?;
    if str_at(chat, &["type"]).as_deref() != Some("private") {
        return None;
    }
    let reachable = match str_at(u, &["new_chat_member", "status"])?.as_str() {
        "kicked" | "left" => false,
        "member" => true,
        _ => return None,
    };
    let contact = contact(i64_at(chat, &["id"])?, at(u, &["from"]), Some(chat));
    let when = date(u, "date").unwrap_or_else(Millis::now);
    Some((
        InboundEvent::Reachability { reachable },
        Some(contact),
        when,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_parameters_follow_the_deep_link_rules() {
        assert_eq!(start_param("/start promo1"), Some("promo1"));
        assert_eq!(start_param("/start@shop_bot promo-1_x"), Some("promo-1_x"));
        assert_eq!(start_param("/start"), None);
        assert_eq!(start_param("/start@shop_bot"), None);
        assert_eq!(start_param("/startle promo"), None);
        assert_eq!(start_param("/start two words"), None);
        assert_eq!(start_param("/start bad!chars"), None);
        assert_eq!(
            start_param(&format!("/start {}", "a".repeat(64))).map(str::len),
            Some(64)
        );
        assert_eq!(start_param(&format!("/start {}", "a".repeat(65))), None);
        assert_eq!(start_param("hello /start promo"), None);
        assert_eq!(start_param("/start\u{a0}é"), None);
    }
}
