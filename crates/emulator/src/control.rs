//! The HTTP control plane under `/_emulator/`, used by the `switchboard
//! emulator` command. Every route calls the same code as the Rust API.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::Inner;
use crate::{
    BotSpec, DeliveryResult, FaultRule, PageSpec, Platform, Signing, TelegramUser, driver,
    telegram_updates,
};

type St = State<Arc<Inner>>;

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    let control = Router::new()
        .route("/health", get(|| async { Json(json!({ "ok": true })) }))
        .route("/messenger/pages", post(add_page))
        .route("/messenger/pages/{page_id}/webhook", post(page_webhook))
        .route("/messenger/pages/{page_id}/verify", post(verify))
        .route("/messenger/pages/{page_id}/raw", post(page_raw))
        .route("/messenger/pages/{page_id}/users/{psid}/text", post(m_text))
        .route(
            "/messenger/pages/{page_id}/users/{psid}/event",
            post(m_event),
        )
        .route(
            "/messenger/pages/{page_id}/users/{psid}/block",
            post(m_block),
        )
        .route(
            "/messenger/pages/{page_id}/users/{psid}/unblock",
            post(m_unblock),
        )
        .route(
            "/messenger/pages/{page_id}/users/{psid}/received",
            get(m_received),
        )
        .route("/telegram/bots", post(add_bot))
        .route(
            "/telegram/bots/{token}/users/{id}/received",
            get(t_received),
        )
        .route("/telegram/bots/{token}/webhook", post(bot_webhook))
        .route("/telegram/bots/{token}/users/{id}/text", post(t_text))
        .route("/telegram/bots/{token}/users/{id}/update", post(t_update))
        .route("/telegram/bots/{token}/users/{id}/block", post(t_block))
        .route("/telegram/bots/{token}/users/{id}/unblock", post(t_unblock))
        .route("/calls", get(list_calls).delete(clear_calls))
        .route("/faults", post(add_fault).delete(clear_faults))
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance));
    Router::new()
        .nest("/_emulator", control)
        .fallback(crate::server::platform_entry)
        .with_state(inner)
}

fn done() -> Response {
    Json(json!({ "ok": true })).into_response()
}

fn delivered(r: DeliveryResult) -> Response {
    Json(r).into_response()
}

fn bad(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "ok": false, "error": msg.into() })),
    )
        .into_response()
}

/// Lenient JSON body: parse errors come back as `{"ok":false,"error":..}`.
fn parse<T: serde::de::DeserializeOwned>(body: &str) -> Result<T, String> {
    let body = if body.trim().is_empty() { "{}" } else { body };
    serde_json::from_str(body).map_err(|e| format!("invalid JSON body: {e}"))
}

async fn add_page(State(inner): St, body: String) -> Response {
    match parse::<PageSpec>(&body) {
        Ok(p) => {
            inner.messenger_add_page(p);
            done()
        }
        Err(e) => bad(e),
    }
}

#[derive(Deserialize)]
struct WebhookBody {
    url: String,
    #[serde(default)]
    secret_token: Option<String>,
}

async fn page_webhook(State(inner): St, Path(page_id): Path<String>, body: String) -> Response {
    match parse::<WebhookBody>(&body) {
        Ok(w) => {
            inner.messenger_set_webhook(&page_id, &w.url);
            done()
        }
        Err(e) => bad(e),
    }
}

async fn verify(State(inner): St, Path(page_id): Path<String>) -> Response {
    delivered(driver::messenger_verify_webhook(&inner, &page_id).await)
}

#[derive(Deserialize)]
struct RawQuery {
    #[serde(default)]
    signing: Option<Signing>,
}

async fn page_raw(
    State(inner): St,
    Path(page_id): Path<String>,
    Query(q): Query<RawQuery>,
    body: axum::body::Bytes,
) -> Response {
    let signing = q.signing.unwrap_or(Signing::Valid);
    delivered(driver::messenger_deliver_raw(&inner, &page_id, body.to_vec(), signing).await)
}

#[derive(Deserialize)]
struct TextBody {
    text: String,
}

async fn m_text(
    State(inner): St,
    Path((page_id, psid)): Path<(String, String)>,
    body: String,
) -> Response {
    match parse::<TextBody>(&body) {
        Ok(t) => {
            let ev = json!({ "message": { "text": t.text } });
            delivered(driver::messenger_user_event(&inner, &page_id, &psid, ev).await)
        }
        Err(e) => bad(e),
    }
}

async fn m_event(
    State(inner): St,
    Path((page_id, psid)): Path<(String, String)>,
    body: String,
) -> Response {
    match parse::<Value>(&body) {
        Ok(ev) => delivered(driver::messenger_user_event(&inner, &page_id, &psid, ev).await),
        Err(e) => bad(e),
    }
}

async fn m_block(State(inner): St, Path((page_id, psid)): Path<(String, String)>) -> Response {
    inner.messenger_set_blocked(&page_id, &psid, true);
    done()
}

async fn m_unblock(State(inner): St, Path((page_id, psid)): Path<(String, String)>) -> Response {
    inner.messenger_set_blocked(&page_id, &psid, false);
    done()
}

/// `GET …/users/{psid}/received`: what the person sees (see `customer_view`).
async fn m_received(State(inner): St, Path((page_id, psid)): Path<(String, String)>) -> Response {
    Json(json!({ "messages": crate::customer_view::messenger(&inner, &page_id, &psid) }))
        .into_response()
}

async fn t_received(State(inner): St, Path((token, id)): Path<(String, String)>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return bad("the user id must be a number");
    };
    match crate::customer_view::telegram(&inner, &token, id) {
        Some(messages) => Json(json!({ "messages": messages })).into_response(),
        None => (
            axum::http::StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such bot or chat" })),
        )
            .into_response(),
    }
}

async fn add_bot(State(inner): St, body: String) -> Response {
    match parse::<BotSpec>(&body) {
        Ok(b) => {
            inner.telegram_add_bot(b);
            done()
        }
        Err(e) => bad(e),
    }
}

async fn bot_webhook(State(inner): St, Path(token): Path<String>, body: String) -> Response {
    match parse::<WebhookBody>(&body) {
        Ok(w) => {
            telegram_updates::set_webhook_direct(&inner, &token, &w.url, w.secret_token.as_deref());
            done()
        }
        Err(e) => bad(e),
    }
}

/// User fields accepted next to the payload in Telegram control bodies.
#[derive(Deserialize, Default)]
struct UserFields {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    language_code: Option<String>,
}

impl UserFields {
    fn user(self, id: i64) -> TelegramUser {
        TelegramUser {
            id,
            first_name: self.first_name.unwrap_or_else(|| format!("User {id}")),
            last_name: self.last_name,
            username: self.username,
            language_code: self.language_code,
        }
    }
}

#[derive(Deserialize)]
struct TgTextBody {
    text: String,
    #[serde(flatten)]
    user: UserFields,
}

#[derive(Deserialize)]
struct TgUpdateBody {
    update: Value,
    #[serde(flatten)]
    user: UserFields,
}

fn user_id(id: &str) -> Result<i64, String> {
    id.parse()
        .map_err(|_| format!("user id {id:?} is not an integer"))
}

async fn t_text(
    State(inner): St,
    Path((token, id)): Path<(String, String)>,
    body: String,
) -> Response {
    let (id, b) = match (user_id(&id), parse::<TgTextBody>(&body)) {
        (Ok(id), Ok(b)) => (id, b),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    delivered(driver::telegram_user_sends_text(&inner, &token, b.user.user(id), &b.text).await)
}

async fn t_update(
    State(inner): St,
    Path((token, id)): Path<(String, String)>,
    body: String,
) -> Response {
    let (id, b) = match (user_id(&id), parse::<TgUpdateBody>(&body)) {
        (Ok(id), Ok(b)) => (id, b),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    delivered(driver::telegram_user_update(&inner, &token, b.user.user(id), b.update).await)
}

async fn t_block_common(
    inner: Arc<Inner>,
    token: String,
    id: String,
    body: String,
    blocked: bool,
) -> Response {
    let (id, u) = match (user_id(&id), parse::<UserFields>(&body)) {
        (Ok(id), Ok(u)) => (id, u),
        (Err(e), _) | (_, Err(e)) => return bad(e),
    };
    delivered(driver::telegram_block(&inner, &token, u.user(id), blocked).await)
}

async fn t_block(
    State(inner): St,
    Path((token, id)): Path<(String, String)>,
    body: String,
) -> Response {
    t_block_common(inner, token, id, body, true).await
}

async fn t_unblock(
    State(inner): St,
    Path((token, id)): Path<(String, String)>,
    body: String,
) -> Response {
    t_block_common(inner, token, id, body, false).await
}

#[derive(Deserialize)]
struct CallsQuery {
    #[serde(default)]
    platform: Option<String>,
    #[serde(default)]
    method: Option<String>,
}

async fn list_calls(State(inner): St, Query(q): Query<CallsQuery>) -> Response {
    let platform = match q.platform.as_deref().filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => match p.parse::<Platform>() {
            Ok(p) => Some(p),
            Err(e) => return bad(e),
        },
    };
    let method = q.method.unwrap_or_default();
    let calls: Vec<_> = match platform {
        Some(p) => inner.calls.matching(p, &method, false),
        None => inner
            .calls
            .all()
            .into_iter()
            .filter(|c| method.is_empty() || c.method.eq_ignore_ascii_case(&method))
            .collect(),
    };
    Json(calls).into_response()
}

async fn clear_calls(State(inner): St) -> Response {
    inner.calls.clear();
    done()
}

async fn add_fault(State(inner): St, body: String) -> Response {
    match parse::<FaultRule>(&body) {
        Ok(rule) => {
            inner.faults.add(rule);
            done()
        }
        Err(e) => bad(e),
    }
}

async fn clear_faults(State(inner): St) -> Response {
    inner.faults.clear();
    done()
}

async fn clock(State(inner): St) -> Response {
    Json(json!({ "now_ms": inner.clock.now_ms() })).into_response()
}

#[derive(Deserialize)]
struct AdvanceBody {
    #[serde(default)]
    seconds: Option<f64>,
    #[serde(default)]
    ms: Option<u64>,
}

async fn advance(State(inner): St, body: String) -> Response {
    match parse::<AdvanceBody>(&body) {
        Ok(a) => {
            let secs = a.seconds.unwrap_or(0.0);
            if !secs.is_finite() || !(0.0..=1e12).contains(&secs) {
                return bad("seconds must be a non-negative number");
            }
            let by = Duration::from_secs_f64(secs) + Duration::from_millis(a.ms.unwrap_or(0));
            inner.clock.advance(by);
            Json(json!({ "ok": true, "now_ms": inner.clock.now_ms() })).into_response()
        }
        Err(e) => bad(e),
    }
}
