//! What a simulated person has received, as they would see it in their app: one list per
//! person, oldest first, in the same platform-neutral shape for Messenger and Telegram — the
//! text (with Telegram's formatting entities), media, buttons and quick replies, cards, and the
//! persona a Messenger message was sent as. The web app's "try it" panel draws from it, and
//! tests read it instead of digging through raw Send API calls.
//!
//! Messenger's view is built from the successful Send API calls to the person (Messenger has
//! no edits); Telegram's from the chat's recent bot messages, so edits and deletions show.

use serde_json::{Value, json};

use crate::Platform;
use crate::state::Inner;

/// A Messenger person's received messages (sender actions are not messages).
pub(crate) fn messenger(inner: &Inner, page_id: &str, psid: &str) -> Vec<Value> {
    let personas = inner
        .m_read()
        .pages
        .get(page_id)
        .map(|p| p.personas.clone())
        .unwrap_or_default();
    inner
        .calls
        .matching(Platform::Messenger, "messages", true)
        .into_iter()
        .filter(|c| c.credential == page_id)
        .filter(|c| recipient(&c.request).as_deref() == Some(psid))
        .filter_map(|c| {
            let message = c.request.get("message").filter(|m| m.is_object())?;
            let mut seen = messenger_message(message);
            seen["at_ms"] = json!(c.at_ms);
            seen["message_id"] = c.response["message_id"].clone();
            if let Some(persona) = c.request.get("persona_id").and_then(id_string)
                && let Some((name, picture)) = personas.get(&persona)
            {
                seen["persona"] = json!({ "name": name, "profile_picture_url": picture });
            }
            Some(seen)
        })
        .collect()
}

/// A Telegram user's private chat with the bot, as it stands now.
pub(crate) fn telegram(inner: &Inner, token: &str, chat_id: i64) -> Option<Vec<Value>> {
    let bot = inner.bot(token)?;
    let st = bot.lock();
    let chat = st.chats.get(&chat_id)?;
    Some(
        chat.recent
            .iter()
            .map(|m| {
                let mut seen = telegram_message(&m.message);
                if let Some(keyboard) = &m.reply_keyboard {
                    seen["quick_replies"] = reply_keyboard(keyboard);
                }
                seen
            })
            .collect(),
    )
}

fn recipient(request: &Value) -> Option<String> {
    request.get("recipient")?.get("id").and_then(id_string)
}

fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn messenger_message(message: &Value) -> Value {
    let mut seen = json!({ "platform": "messenger" });
    if let Some(text) = message.get("text").and_then(Value::as_str) {
        seen["text"] = json!(text);
    }
    if let Some(a) = message.get("attachment").filter(|a| a.is_object()) {
        let payload = &a["payload"];
        match a["type"].as_str().unwrap_or_default() {
            "template" => template(payload, &mut seen),
            kind => {
                seen["media"] = json!({
                    "type": kind,
                    "url": payload.get("url").cloned().unwrap_or(Value::Null),
                    "attachment_id": payload.get("attachment_id").cloned().unwrap_or(Value::Null),
                });
            }
        }
    }
    if let Some(qrs) = message.get("quick_replies").and_then(Value::as_array) {
        seen["quick_replies"] = qrs
            .iter()
            .map(|q| match q["content_type"].as_str() {
                Some("user_phone_number") => json!({ "title": "Phone number", "kind": "phone" }),
                Some("user_email") => json!({ "title": "Email", "kind": "email" }),
                _ => json!({
                    "title": q["title"],
                    "payload": q["payload"],
                    "image_url": q.get("image_url").cloned().unwrap_or(Value::Null),
                }),
            })
            .collect();
    }
    seen
}

fn template(payload: &Value, seen: &mut Value) {
    match payload["template_type"].as_str().unwrap_or_default() {
        "button" => {
            seen["text"] = payload["text"].clone();
            seen["buttons"] = json!([messenger_buttons(&payload["buttons"])]);
        }
        "generic" | "media" => {
            let cards: Vec<Value> = payload["elements"]
                .as_array()
                .map(|els| {
                    els.iter()
                        .map(|e| {
                            json!({
                                "title": e.get("title").cloned().unwrap_or(Value::Null),
                                "subtitle": e.get("subtitle").cloned().unwrap_or(Value::Null),
                                "image_url": e.get("image_url").or(e.get("url")).cloned().unwrap_or(Value::Null),
                                "buttons": messenger_buttons(&e["buttons"]),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            seen["cards"] = json!(cards);
        }
        other => seen["template"] = json!(other),
    }
}

fn messenger_buttons(buttons: &Value) -> Value {
    buttons
        .as_array()
        .map(|bs| {
            bs.iter()
                .map(|b| {
                    let mut out = json!({ "title": b["title"], "type": b["type"] });
                    for k in ["url", "payload"] {
                        if let Some(v) = b.get(k) {
                            out[k] = v.clone();
                        }
                    }
                    out
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A reply keyboard's buttons, which the person taps to send their text: quick replies.
fn reply_keyboard(markup: &Value) -> Value {
    markup["keyboard"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .filter_map(Value::as_array)
                .flatten()
                .map(|b| {
                    let title = b.as_str().map_or_else(|| b["text"].clone(), |t| json!(t));
                    json!({ "title": title, "payload": title })
                })
                .collect()
        })
        .unwrap_or_default()
}

const TELEGRAM_MEDIA: &[&str] = &["photo", "video", "audio", "document", "voice"];

fn telegram_message(m: &Value) -> Value {
    let mut seen = json!({
        "platform": "telegram",
        "message_id": m["message_id"],
        "at_ms": m["date"].as_i64().map(|s| s * 1000),
    });
    for (field, entities) in [("text", "entities"), ("caption", "caption_entities")] {
        if let Some(t) = m.get(field).and_then(Value::as_str) {
            seen["text"] = json!(t);
            if let Some(e) = m.get(entities) {
                seen["entities"] = e.clone();
            }
        }
    }
    if let Some(kind) = TELEGRAM_MEDIA.iter().find(|k| m.get(**k).is_some()) {
        // A photo arrives in several sizes: the person sees the largest.
        let file = match &m[*kind] {
            Value::Array(sizes) => sizes.last().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        seen["media"] = json!({ "type": kind, "file": file });
    }
    if let Some(rows) = m
        .get("reply_markup")
        .and_then(|r| r.get("inline_keyboard"))
        .and_then(Value::as_array)
    {
        seen["buttons"] = rows
            .iter()
            .map(|row| {
                row.as_array()
                    .map(|bs| {
                        bs.iter()
                            .map(|b| {
                                let mut out = json!({ "title": b["text"] });
                                if let Some(u) = b.get("url") {
                                    out["type"] = json!("web_url");
                                    out["url"] = u.clone();
                                } else if let Some(d) = b.get("callback_data") {
                                    out["type"] = json!("postback");
                                    out["payload"] = d.clone();
                                }
                                out
                            })
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect();
    }
    for k in [
        "media_group_id",
        "edit_date",
        "reply_to_message",
        "bot_reaction",
    ] {
        if let Some(v) = m.get(k) {
            seen[k] = match k {
                "reply_to_message" => json!({ "message_id": v["message_id"] }),
                _ => v.clone(),
            };
        }
    }
    seen
}
