//! The webhook driver: a simulated customer acts, the emulator builds the
//! platform's webhook payload, signs it (Messenger) or adds the secret header
//! (Telegram), POSTs it and reports what the webhook answered.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::Sha256;

use crate::state::{Inner, new_mid, tg_user_json, upsert_chat};
use crate::{DeliveryResult, Signing, TelegramUser, json_ascii, telegram_updates};

// ---- Messenger ---------------------------------------------------------------

/// `(X-Hub-Signature-256, X-Hub-Signature)` header values for `body`.
pub(crate) fn sign(app_secret: &str, body: &[u8]) -> (String, String) {
    let s256 = match Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    let s1 = match Hmac::<Sha1>::new_from_slice(app_secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    (format!("sha256={s256}"), format!("sha1={s1}"))
}

/// A9: message (not an echo), postback (incl. Get Started and quick replies,
/// which arrive as messages), reaction, referral and plugin opt-ins open the
/// 24 h window; marketing opt-ins (`notification_messages`), deliveries and
/// reads do not.
fn opens_window(ev: &Map<String, Value>) -> bool {
    if let Some(m) = ev.get("message") {
        return m.get("is_echo").and_then(Value::as_bool) != Some(true);
    }
    if ["postback", "reaction", "referral"]
        .iter()
        .any(|k| ev.contains_key(*k))
    {
        return true;
    }
    if let Some(o) = ev.get("optin") {
        return o.get("type").and_then(Value::as_str) != Some("notification_messages");
    }
    false
}

pub(crate) async fn messenger_user_event(
    inner: &Arc<Inner>,
    page_id: &str,
    psid: &str,
    event: Value,
) -> DeliveryResult {
    let Value::Object(mut ev) = event else {
        return DeliveryResult::failed("event must be a JSON object");
    };
    for key in ["message", "postback"] {
        if let Some(Value::Object(m)) = ev.get_mut(key)
            && !m.contains_key("mid")
        {
            m.insert("mid".into(), Value::String(new_mid()));
        }
    }
    if !inner.messenger_user_acted(page_id, psid, opens_window(&ev)) {
        return DeliveryResult::failed(format!("unknown page {page_id}"));
    }
    deliver_event(inner, page_id, psid, ev).await
}

/// Wraps one `messaging[]` item in the page envelope and delivers it with a
/// valid signature; failures are retried in the background.
async fn deliver_event(
    inner: &Arc<Inner>,
    page_id: &str,
    psid: &str,
    mut ev: Map<String, Value>,
) -> DeliveryResult {
    let now = inner.clock.now_ms();
    ev.entry("sender").or_insert_with(|| json!({ "id": psid }));
    ev.entry("recipient")
        .or_insert_with(|| json!({ "id": page_id }));
    ev.entry("timestamp").or_insert_with(|| json!(now));
    let envelope = json!({
        "object": "page",
        "entry": [{ "id": page_id, "time": now, "messaging": [Value::Object(ev)] }],
    });
    // Serialised once; these exact bytes are signed and sent.
    let body = json_ascii::to_vec(&envelope);
    deliver_bytes(inner, page_id, body, Signing::Valid, true).await
}

pub(crate) async fn messenger_deliver_raw(
    inner: &Arc<Inner>,
    page_id: &str,
    body: Vec<u8>,
    signing: Signing,
) -> DeliveryResult {
    // A validly signed payload stands for events that really happened at
    // Meta; forged ones (bad or missing signature) change nothing.
    if signing == Signing::Valid {
        record_raw_actions(inner, &body);
    }
    deliver_bytes(inner, page_id, body, signing, false).await
}

/// Best effort: garbage bodies are legitimate test input and are ignored.
fn record_raw_actions(inner: &Inner, body: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let entries = v
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for entry in entries {
        let Some(page) = entry.get("id").and_then(Value::as_str) else {
            continue;
        };
        let items = entry
            .get("messaging")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for item in items {
            let (Some(psid), Some(ev)) = (
                item.get("sender")
                    .and_then(|s| s.get("id"))
                    .and_then(Value::as_str),
                item.as_object(),
            ) else {
                continue;
            };
            // Echoes are sent by the page itself.
            if psid != page {
                inner.messenger_user_acted(page, psid, opens_window(ev));
            }
        }
    }
}

async fn deliver_bytes(
    inner: &Arc<Inner>,
    page_id: &str,
    body: Vec<u8>,
    signing: Signing,
    retry: bool,
) -> DeliveryResult {
    let Some(target) = inner.page_target(page_id) else {
        return DeliveryResult::failed(format!("unknown page {page_id}"));
    };
    let Some(url) = target.url else {
        return DeliveryResult::failed(format!("page {page_id} has no webhook url"));
    };
    if !target.subscribed {
        return DeliveryResult::failed(format!(
            "app is not subscribed to page {page_id} (unsubscribed, or webhook disabled after failing too long)"
        ));
    }
    let res = post_signed(inner, &url, &target.app_secret, &body, signing).await;
    // Only driver-built events count towards the failure streak and get
    // retried: raw deliveries are usually deliberate garbage.
    if retry {
        let subscribed = inner.messenger_delivery_outcome(page_id, res.ok);
        if !res.ok && subscribed && inner.config.messenger_retry_attempts > 0 {
            tokio::spawn(retry_delivery(inner.clone(), page_id.to_owned(), body));
        }
    }
    res
}

async fn retry_delivery(inner: Arc<Inner>, page_id: String, body: Vec<u8>) {
    let cap = inner
        .config
        .webhook_retry_cap
        .max(inner.config.webhook_retry_initial);
    let mut backoff = inner.config.webhook_retry_initial;
    for _ in 0..inner.config.messenger_retry_attempts {
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(cap);
        let Some(target) = inner.page_target(&page_id) else {
            return;
        };
        let (Some(url), true) = (target.url, target.subscribed) else {
            return;
        };
        let res = post_signed(&inner, &url, &target.app_secret, &body, Signing::Valid).await;
        let subscribed = inner.messenger_delivery_outcome(&page_id, res.ok);
        if res.ok || !subscribed {
            return;
        }
    }
}

async fn post_signed(
    inner: &Inner,
    url: &str,
    app_secret: &str,
    body: &[u8],
    signing: Signing,
) -> DeliveryResult {
    let mut req = inner
        .http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    let key = match signing {
        Signing::Valid => Some(app_secret.to_owned()),
        // Well-formed headers computed with a different key.
        Signing::Invalid => Some(format!("{app_secret}-wrong")),
        Signing::Missing => None,
    };
    if let Some(key) = key {
        let (s256, s1) = sign(&key, body);
        req = req
            .header("X-Hub-Signature-256", s256)
            .header("X-Hub-Signature", s1);
    }
    match req.body(body.to_vec()).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap_or_default();
            DeliveryResult {
                status,
                body: text,
                // Meta wants exactly 200.
                ok: status == 200,
            }
        }
        Err(e) => DeliveryResult::failed(format!("connection failed: {e}")),
    }
}

/// Meta's subscription handshake (A2): the webhook must echo the challenge.
pub(crate) async fn messenger_verify_webhook(inner: &Arc<Inner>, page_id: &str) -> DeliveryResult {
    let Some(target) = inner.page_target(page_id) else {
        return DeliveryResult::failed(format!("unknown page {page_id}"));
    };
    let Some(url) = target.url else {
        return DeliveryResult::failed(format!("page {page_id} has no webhook url"));
    };
    let challenge = fastrand::u64(1_000_000_000..10_000_000_000).to_string();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("hub.mode", "subscribe")
        .append_pair(
            "hub.verify_token",
            target.verify_token.as_deref().unwrap_or(""),
        )
        .append_pair("hub.challenge", &challenge)
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    match inner.http.get(format!("{url}{sep}{query}")).send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            DeliveryResult {
                ok: status == 200 && body == challenge,
                status,
                body,
            }
        }
        Err(e) => DeliveryResult::failed(format!("connection failed: {e}")),
    }
}

/// `auto_receipts`: the user's device reports delivery, then the user reads.
pub(crate) async fn auto_receipts(
    inner: Arc<Inner>,
    page_id: String,
    psid: String,
    mid: String,
    sent_ms: i64,
) {
    tokio::time::sleep(inner.config.receipt_delay).await;
    let mut ev = Map::new();
    ev.insert(
        "delivery".into(),
        json!({ "mids": [mid], "watermark": sent_ms }),
    );
    deliver_event(&inner, &page_id, &psid, ev).await;
    tokio::time::sleep(inner.config.receipt_delay).await;
    let mut ev = Map::new();
    ev.insert("read".into(), json!({ "watermark": sent_ms }));
    deliver_event(&inner, &page_id, &psid, ev).await;
}

// ---- Telegram ------------------------------------------------------------------

pub(crate) async fn telegram_user_sends_text(
    inner: &Arc<Inner>,
    token: &str,
    user: TelegramUser,
    text: &str,
) -> DeliveryResult {
    let payload = json!({ "message": { "text": text } });
    telegram_user_update(inner, token, user, payload).await
}

/// Fills what the platform would fill in a Message sent by the user.
fn fill_user_message(
    m: &mut Map<String, Value>,
    chat: &mut crate::state::Chat,
    user: &TelegramUser,
    now_s: i64,
) {
    if !m.contains_key("message_id") {
        m.insert("message_id".into(), json!(chat.take_message_id()));
    }
    m.entry("from").or_insert_with(|| tg_user_json(user));
    m.entry("chat").or_insert_with(|| chat.chat_json());
    m.entry("date").or_insert_with(|| json!(now_s));
    // What Telegram finds in a user's text by itself: commands, links, mentions, hashtags.
    if !m.contains_key("entities")
        && let Some(text) = m.get("text").and_then(Value::as_str)
    {
        let entities = crate::telegram_format::automatic(text);
        if !entities.is_empty() {
            m.insert("entities".into(), Value::Array(entities));
        }
    }
    chat.remember_received(&Value::Object(m.clone()));
}

pub(crate) async fn telegram_user_update(
    inner: &Arc<Inner>,
    token: &str,
    user: TelegramUser,
    payload: Value,
) -> DeliveryResult {
    let Some(bot) = inner.bot(token) else {
        return DeliveryResult::failed("unknown bot token");
    };
    let Value::Object(mut obj) = payload else {
        return DeliveryResult::failed("update payload must be a JSON object");
    };
    obj.remove("update_id");
    if obj.len() != 1 {
        return DeliveryResult::failed(
            "update payload must have exactly one key (the update type)",
        );
    }
    let Some((kind, mut value)) = obj.into_iter().next() else {
        return DeliveryResult::failed("empty update payload");
    };
    let now_ms = inner.clock.now_ms();
    let now_s = now_ms / 1000;
    {
        let mut guard = bot.lock();
        let st = &mut *guard;
        let chat = upsert_chat(st, &user, now_ms);
        let chat_json = chat.chat_json();
        if let Value::Object(m) = &mut value {
            match kind.as_str() {
                "message" => fill_user_message(m, chat, &user, now_s),
                "edited_message" => {
                    fill_user_message(m, chat, &user, now_s);
                    m.entry("edit_date").or_insert_with(|| json!(now_s));
                }
                "callback_query" => {
                    m.entry("from").or_insert_with(|| tg_user_json(&user));
                    m.entry("chat_instance").or_insert_with(|| {
                        json!(format!(
                            "-{}",
                            fastrand::u64(1_000_000_000_000..9_000_000_000_000)
                        ))
                    });
                    // The message the button belongs to: the given one
                    // completed from the bot's recent messages, else the
                    // bot's latest message in this chat.
                    let wanted = m
                        .get("message")
                        .and_then(|x| x.get("message_id"))
                        .and_then(Value::as_i64);
                    let known = match wanted {
                        Some(id) => chat.recent.iter().rev().find(|s| s.message_id == id),
                        None if !m.contains_key("message") => chat.recent.back(),
                        None => None,
                    }
                    .map(|s| s.message.clone());
                    match (m.get_mut("message"), known) {
                        (Some(Value::Object(given)), Some(Value::Object(full))) => {
                            for (k, v) in full {
                                given.entry(k).or_insert(v);
                            }
                        }
                        (Some(Value::Object(given)), _) => {
                            given.entry("chat").or_insert_with(|| chat_json.clone());
                            given.entry("date").or_insert_with(|| json!(now_s));
                        }
                        (None, Some(full)) => {
                            m.insert("message".into(), full);
                        }
                        _ => {}
                    }
                    let id = match m.get("id") {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Number(n)) => n.to_string(),
                        _ => {
                            fastrand::u64(1_000_000_000_000_000..9_000_000_000_000_000).to_string()
                        }
                    };
                    m.insert("id".into(), Value::String(id.clone()));
                    st.callback_queries.insert(id, false);
                }
                "my_chat_member" | "message_reaction" => {
                    m.entry("chat").or_insert_with(|| chat_json.clone());
                    m.entry(if kind == "message_reaction" {
                        "user"
                    } else {
                        "from"
                    })
                    .or_insert_with(|| tg_user_json(&user));
                    m.entry("date").or_insert_with(|| json!(now_s));
                }
                _ => {}
            }
        }
    }
    telegram_updates::deliver_update(inner, &bot, &kind, value).await
}

/// Block (`kicked`) or unblock (`member`): state changes at once, then the
/// `my_chat_member` update is delivered.
pub(crate) async fn telegram_block(
    inner: &Arc<Inner>,
    token: &str,
    user: TelegramUser,
    blocked: bool,
) -> DeliveryResult {
    let Some(bot) = inner.bot(token) else {
        return DeliveryResult::failed("unknown bot token");
    };
    let now_ms = inner.clock.now_ms();
    let chat_json = {
        let mut st = bot.lock();
        let chat = upsert_chat(&mut st, &user, now_ms);
        chat.blocked = blocked;
        chat.chat_json()
    };
    let (old, new) = if blocked {
        ("member", "kicked")
    } else {
        ("kicked", "member")
    };
    let mut new_member = json!({ "user": bot.user_json(), "status": new });
    if blocked {
        new_member["until_date"] = json!(0);
    }
    let mut old_member = json!({ "user": bot.user_json(), "status": old });
    if !blocked {
        old_member["until_date"] = json!(0);
    }
    let payload = json!({
        "chat": chat_json,
        "from": tg_user_json(&user),
        "date": now_ms / 1000,
        "old_chat_member": old_member,
        "new_chat_member": new_member,
    });
    telegram_updates::deliver_update(inner, &bot, "my_chat_member", payload).await
}

pub(crate) async fn telegram_deliver_raw(
    inner: &Arc<Inner>,
    token: &str,
    body: Vec<u8>,
    secret: Option<&str>,
) -> DeliveryResult {
    let Some(bot) = inner.bot(token) else {
        return DeliveryResult::failed("unknown bot token");
    };
    let url = bot.lock().webhook.as_ref().map(|w| w.url.clone());
    match url {
        Some(url) => telegram_updates::post_with_secret(inner, &url, secret, body).await,
        None => DeliveryResult::failed("bot has no webhook"),
    }
}
