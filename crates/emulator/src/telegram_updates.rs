//! Telegram update delivery: webhook (with background redelivery), the 24 h
//! pending queue, `getUpdates` long polling and its 409 rules.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::DeliveryResult;
use crate::params::{get_bool, get_i64, get_json, get_str};
use crate::state::{Bot, BotState, Inner, PendingUpdate, Webhook};
use crate::telegram::{TgErr, ok};

/// Updates are kept for 24 h (B2).
const RETENTION_MS: i64 = 24 * 3600 * 1000;
const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

fn prune(st: &mut BotState, now_ms: i64) {
    while st
        .pending
        .front()
        .is_some_and(|u| now_ms - u.created_ms > RETENTION_MS)
    {
        st.pending.pop_front();
    }
}

/// Whether an update kind passes `allowed_updates`; the default set leaves
/// out `chat_member` and the reaction updates.
fn allowed(list: &Option<Vec<String>>, kind: &str) -> bool {
    match list {
        Some(l) if !l.is_empty() => l.iter().any(|k| k == kind),
        _ => !matches!(
            kind,
            "chat_member" | "message_reaction" | "message_reaction_count"
        ),
    }
}

fn insert_sorted(st: &mut BotState, upd: PendingUpdate) {
    let pos = st
        .pending
        .iter()
        .rposition(|u| u.update_id < upd.update_id)
        .map_or(0, |p| p + 1);
    st.pending.insert(pos, upd);
}

/// Assigns the next `update_id`, then POSTs to the webhook or queues the update
/// for `getUpdates`. A failed webhook POST leaves the update queued for
/// background redelivery.
pub(crate) async fn deliver_update(
    inner: &Arc<Inner>,
    bot: &Arc<Bot>,
    kind: &str,
    payload: Value,
) -> DeliveryResult {
    let now = inner.clock.now_ms();
    let (update, webhook) = {
        let mut st = bot.lock();
        if !allowed(&st.allowed_updates, kind) {
            return DeliveryResult::failed(format!(
                "update type {kind} is not in allowed_updates; Telegram drops it"
            ));
        }
        let id = st.next_update_id;
        st.next_update_id += 1;
        let mut update = Map::new();
        update.insert("update_id".into(), json!(id));
        update.insert(kind.to_owned(), payload);
        let update = Value::Object(update);
        match st.webhook.clone() {
            Some(w) => (
                PendingUpdate {
                    update_id: id,
                    created_ms: now,
                    update,
                },
                w,
            ),
            None => {
                prune(&mut st, now);
                insert_sorted(
                    &mut st,
                    PendingUpdate {
                        update_id: id,
                        created_ms: now,
                        update,
                    },
                );
                drop(st);
                bot.notify.notify_waiters();
                return DeliveryResult {
                    status: 0,
                    body: format!("queued for getUpdates: update_id={id}"),
                    ok: true,
                };
            }
        }
    };
    let body = serde_json::to_vec(&update.update).unwrap_or_default();
    let res = post(inner, &webhook, body).await;
    if !res.ok {
        {
            let mut st = bot.lock();
            st.last_error = Some((inner.clock.now_secs(), error_message(&res)));
            insert_sorted(&mut st, update);
        }
        ensure_worker(inner, bot);
    }
    res
}

pub(crate) async fn post(inner: &Inner, w: &Webhook, body: Vec<u8>) -> DeliveryResult {
    post_with_secret(inner, &w.url, w.secret.as_deref(), body).await
}

pub(crate) async fn post_with_secret(
    inner: &Inner,
    url: &str,
    secret: Option<&str>,
    body: Vec<u8>,
) -> DeliveryResult {
    let mut req = inner
        .http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(s) = secret {
        req = req.header(SECRET_HEADER, s);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            DeliveryResult {
                status,
                body,
                ok: (200..300).contains(&status),
            }
        }
        Err(e) => DeliveryResult::failed(format!("connection failed: {e}")),
    }
}

fn error_message(res: &DeliveryResult) -> String {
    if res.status == 0 {
        "Connection refused".to_owned()
    } else {
        let reason = reqwest::StatusCode::from_u16(res.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        format!("Wrong response from the webhook: {} {reason}", res.status)
            .trim_end()
            .to_owned()
    }
}

/// Starts the redelivery task unless it runs or has nothing to do.
pub(crate) fn ensure_worker(inner: &Arc<Inner>, bot: &Arc<Bot>) {
    {
        let mut st = bot.lock();
        if st.worker_running || st.webhook.is_none() || st.pending.is_empty() {
            return;
        }
        st.worker_running = true;
    }
    tokio::spawn(worker(inner.clone(), bot.clone()));
}

/// Delivers pending updates in order, one at a time, with doubling backoff
/// (capped by `webhook_retry_cap`) while the webhook keeps failing.
async fn worker(inner: Arc<Inner>, bot: Arc<Bot>) {
    let initial = inner.config.webhook_retry_initial;
    let cap = inner.config.webhook_retry_cap.max(initial);
    let mut backoff = initial;
    tokio::time::sleep(backoff).await;
    loop {
        let (webhook, upd) = {
            let mut st = bot.lock();
            prune(&mut st, inner.clock.now_ms());
            match (st.webhook.clone(), st.pending.front().cloned()) {
                (Some(w), Some(u)) => (w, u),
                _ => {
                    st.worker_running = false;
                    return;
                }
            }
        };
        let body = serde_json::to_vec(&upd.update).unwrap_or_default();
        let res = post(&inner, &webhook, body).await;
        if res.ok {
            let mut st = bot.lock();
            if st
                .pending
                .front()
                .is_some_and(|u| u.update_id == upd.update_id)
            {
                st.pending.pop_front();
            }
            backoff = initial;
        } else {
            bot.lock().last_error = Some((inner.clock.now_secs(), error_message(&res)));
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(cap);
        }
    }
}

/// Real Telegram wants HTTPS on 443/80/88/8443; the emulator also accepts
/// plain HTTP to loopback on any port so tests can run a local receiver.
fn validate_url(url: &str) -> Result<(), TgErr> {
    let bad = |what: &str| TgErr::bad(format_args!("bad webhook: {what}"));
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("An HTTPS URL must be provided for webhook"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').unwrap_or((v6, ""));
        (h, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(bad("Failed to resolve host: Name or service not known"));
    }
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "::1");
    let scheme = scheme.to_ascii_lowercase();
    if scheme == "http" && loopback {
        return Ok(());
    }
    if scheme != "https" {
        return Err(bad("An HTTPS URL must be provided for webhook"));
    }
    match port {
        None | Some("443" | "80" | "88" | "8443") => Ok(()),
        Some(_) => Err(bad(
            "Webhook can be set up only on ports 80, 88, 443 or 8443",
        )),
    }
}

fn validate_secret(s: &str) -> Result<(), TgErr> {
    if s.len() > 256 {
        return Err(TgErr::bad("secret token is too long"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(TgErr::bad("secret token contains unallowed characters"));
    }
    Ok(())
}

pub(crate) fn set_webhook(
    inner: &Arc<Inner>,
    bot: &Arc<Bot>,
    p: &Map<String, Value>,
) -> Result<Value, TgErr> {
    let url = get_str(p, "url").unwrap_or_default().trim().to_owned();
    if url.is_empty() {
        return Ok(delete_webhook(bot, p));
    }
    validate_url(&url)?;
    // An empty parameter counts as absent, as in the real server.
    let secret = get_str(p, "secret_token").filter(|s| !s.is_empty());
    if let Some(s) = &secret {
        validate_secret(s)?;
    }
    let max_connections = match get_i64(p, "max_connections") {
        None => 40,
        Some(Ok(n)) => n.clamp(1, 100) as u32,
        Some(Err(())) => return Err(TgErr::bad("max_connections is invalid")),
    };
    let allowed_updates = match get_json(p, "allowed_updates") {
        None => None,
        Some(Ok(Value::Array(a))) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(_) => return Err(TgErr::bad("can't parse allowed_updates JSON object")),
    };
    let already = {
        let mut st = bot.lock();
        let already = st
            .webhook
            .as_ref()
            .is_some_and(|w| w.url == url && w.secret == secret);
        if get_bool(p, "drop_pending_updates") {
            st.pending.clear();
        }
        if allowed_updates.is_some() {
            st.allowed_updates = allowed_updates;
        }
        st.webhook = Some(Webhook {
            url,
            secret,
            max_connections,
        });
        st.last_error = None;
        // Any long poll in progress must end: polling and webhooks exclude
        // each other.
        st.poll_generation += 1;
        already
    };
    bot.notify.notify_waiters();
    ensure_worker(inner, bot);
    let desc = if already {
        "Webhook is already set"
    } else {
        "Webhook was set"
    };
    Ok(json!({ "ok": true, "result": true, "description": desc }))
}

/// Rust-API variant of `setWebhook`: no URL checks, no parameters.
pub(crate) fn set_webhook_direct(inner: &Arc<Inner>, token: &str, url: &str, secret: Option<&str>) {
    let Some(bot) = inner.bot(token) else {
        return;
    };
    {
        let mut st = bot.lock();
        st.webhook = if url.is_empty() {
            None
        } else {
            Some(Webhook {
                url: url.to_owned(),
                secret: secret.map(str::to_owned),
                max_connections: 40,
            })
        };
        st.last_error = None;
        st.poll_generation += 1;
    }
    bot.notify.notify_waiters();
    ensure_worker(inner, &bot);
}

pub(crate) fn delete_webhook(bot: &Bot, p: &Map<String, Value>) -> Value {
    let had = {
        let mut st = bot.lock();
        if get_bool(p, "drop_pending_updates") {
            st.pending.clear();
        }
        st.last_error = None;
        st.webhook.take().is_some()
    };
    bot.notify.notify_waiters();
    let desc = if had {
        "Webhook was deleted"
    } else {
        "Webhook is already deleted"
    };
    json!({ "ok": true, "result": true, "description": desc })
}

pub(crate) fn webhook_info(inner: &Inner, bot: &Bot) -> Value {
    let mut st = bot.lock();
    prune(&mut st, inner.clock.now_ms());
    let mut info = json!({
        "url": st.webhook.as_ref().map(|w| w.url.clone()).unwrap_or_default(),
        "has_custom_certificate": false,
        "pending_update_count": st.pending.len(),
    });
    if let Some(w) = &st.webhook {
        info["max_connections"] = json!(w.max_connections);
        info["ip_address"] = json!("127.0.0.1");
    }
    if let Some((date, msg)) = &st.last_error {
        info["last_error_date"] = json!(date);
        info["last_error_message"] = json!(msg);
    }
    if let Some(a) = &st.allowed_updates {
        info["allowed_updates"] = json!(a);
    }
    info
}

const WEBHOOK_CONFLICT: &str = "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first";
const POLL_CONFLICT: &str = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running";

pub(crate) async fn get_updates(
    inner: &Arc<Inner>,
    bot: &Arc<Bot>,
    p: &Map<String, Value>,
) -> Result<Value, TgErr> {
    let offset = get_i64(p, "offset").and_then(Result::ok).unwrap_or(0);
    let limit = get_i64(p, "limit")
        .and_then(Result::ok)
        .unwrap_or(100)
        .clamp(1, 100) as usize;
    let timeout = get_i64(p, "timeout")
        .and_then(Result::ok)
        .unwrap_or(0)
        .clamp(0, 50) as u64;
    let allowed_updates = match get_json(p, "allowed_updates") {
        Some(Ok(Value::Array(a))) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    };
    let generation = {
        let mut st = bot.lock();
        if st.webhook.is_some() {
            return Err(TgErr::new(409, WEBHOOK_CONFLICT));
        }
        if allowed_updates.is_some() {
            st.allowed_updates = allowed_updates;
        }
        // Confirmation: everything below `offset` is forgotten; a negative
        // offset keeps only the last |offset| updates.
        if offset > 0 {
            st.pending.retain(|u| u.update_id >= offset);
        } else if offset < 0 {
            let keep = offset.unsigned_abs() as usize;
            while st.pending.len() > keep {
                st.pending.pop_front();
            }
        }
        st.poll_generation += 1;
        st.poll_generation
    };
    // Ends an older long poll with "terminated by other getUpdates request".
    bot.notify.notify_waiters();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let mut expired = timeout == 0;
    loop {
        let notified = bot.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut st = bot.lock();
            if st.poll_generation != generation {
                return Err(TgErr::new(
                    409,
                    if st.webhook.is_some() {
                        WEBHOOK_CONFLICT
                    } else {
                        POLL_CONFLICT
                    },
                ));
            }
            prune(&mut st, inner.clock.now_ms());
            if !st.pending.is_empty() || expired {
                let out: Vec<Value> = st
                    .pending
                    .iter()
                    .take(limit)
                    .map(|u| u.update.clone())
                    .collect();
                return Ok(Value::Array(out));
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            expired = true;
        }
    }
}

/// `getWebhookInfo` needs the clock for retention; keep the call site short.
pub(crate) fn webhook_info_ok(inner: &Inner, bot: &Bot) -> Value {
    ok(webhook_info(inner, bot))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls() {
        assert!(validate_url("https://example.com/hook").is_ok());
        assert!(validate_url("https://example.com:8443/hook").is_ok());
        assert!(validate_url("http://127.0.0.1:39811/tg").is_ok());
        assert!(validate_url("http://example.com/hook").is_err());
        let e = validate_url("https://example.com:8080/x").expect_err("port");
        assert!(e.description.contains("ports 80, 88, 443 or 8443"));
        assert!(validate_secret("abc_DEF-123").is_ok());
        assert!(validate_secret("a+b").is_err());
        assert!(validate_secret(&"a".repeat(257)).is_err());
    }

    #[test]
    fn allowed_defaults() {
        assert!(allowed(&None, "message"));
        assert!(!allowed(&None, "chat_member"));
        assert!(allowed(&Some(vec!["chat_member".into()]), "chat_member"));
        assert!(!allowed(&Some(vec!["message".into()]), "callback_query"));
    }
}
