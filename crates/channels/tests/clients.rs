//! Messenger and Telegram clients against a tiny local server that answers like the platforms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{Method, StatusCode, Uri};
use serde_json::{Value, json};
use switchboard_channels::http_client;
use switchboard_channels::messenger::{MessagingType, MessengerClient, Profile};
use switchboard_channels::telegram::TelegramClient;
use switchboard_domain::{Psid, SendError, SendErrorClass, TelegramChatId};

const PAGE_TOKEN: &str = "EAAGm0PX4ZCpsBAtestPageToken";
const BOT_TOKEN: &str = "7354627181:AAHtestBotToken-x_y";
const PSID: &str = "1254459154682919";

// ---------------------------------------------------------------- fake platform

#[derive(Debug, Clone)]
struct Recorded {
    method: Method,
    path: String,
    query: HashMap<String, String>,
    body: Vec<u8>,
}

impl Recorded {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct Fake {
    status: StatusCode,
    body: String,
    delay: Duration,
    seen: Arc<Mutex<Vec<Recorded>>>,
}

async fn answer(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> (StatusCode, String) {
    fake.seen.lock().unwrap().push(Recorded {
        method,
        path: uri.path().to_owned(),
        query,
        body: body.to_vec(),
    });
    tokio::time::sleep(fake.delay).await;
    (fake.status, fake.body.clone())
}

/// Serves one canned answer to every request; returns the base URL and the request log.
async fn platform(status: u16, body: Value) -> (String, Arc<Mutex<Vec<Recorded>>>) {
    platform_raw(status, body.to_string(), Duration::ZERO).await
}

async fn platform_raw(
    status: u16,
    body: String,
    delay: Duration,
) -> (String, Arc<Mutex<Vec<Recorded>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fake = Fake {
        status: StatusCode::from_u16(status).unwrap(),
        body,
        delay,
        seen: seen.clone(),
    };
    let app = Router::new().fallback(answer).with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

/// An address where nothing listens: bind, note the port, close.
fn refused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn psid() -> Psid {
    Psid::parse(PSID).unwrap()
}

fn messenger(base: &str) -> MessengerClient {
    MessengerClient::new(http_client(), &format!("{base}/v23.0"), PAGE_TOKEN)
}

fn telegram(base: &str) -> TelegramClient {
    TelegramClient::new(http_client(), base, BOT_TOKEN)
}

fn assert_no_secrets(err: &SendError) {
    assert!(
        !err.detail.contains(PAGE_TOKEN),
        "page token leaked: {}",
        err.detail
    );
    assert!(
        !err.detail.contains(BOT_TOKEN),
        "bot token leaked: {}",
        err.detail
    );
    assert!(
        !err.detail.contains("AAHtestBotToken"),
        "bot token leaked: {}",
        err.detail
    );
    assert!(!format!("{err}").contains(PAGE_TOKEN));
    assert!(!format!("{err:?}").contains(BOT_TOKEN));
}

fn graph_error(code: i64, subcode: Option<i64>) -> Value {
    let mut error = json!({
        "message": format!("(#{code}) something went wrong for access_token={PAGE_TOKEN}"),
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": "AbCdEf123",
    });
    if let Some(sub) = subcode {
        error["error_subcode"] = json!(sub);
    }
    json!({ "error": error })
}

// ---------------------------------------------------------------- Messenger

#[tokio::test]
async fn agent_reply_is_posted_to_the_send_api_exactly_as_documented() {
    let (base, seen) = platform(200, json!({"recipient_id": PSID, "message_id": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"})).await;
    let receipt = messenger(&base)
        .send_text(
            &psid(),
            "Your order shipped 📦",
            &MessagingType::Response,
            Some("switchboard:4711"),
        )
        .await
        .unwrap();
    assert!(receipt.platform_message_id.starts_with("m_AG5Hz2"));

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let req = &seen[0];
    assert_eq!(req.method, Method::POST);
    assert_eq!(req.path, "/v23.0/me/messages");
    assert_eq!(
        req.query.get("access_token").map(String::as_str),
        Some(PAGE_TOKEN)
    );
    assert_eq!(
        req.json(),
        json!({
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "Your order shipped 📦", "metadata": "switchboard:4711"},
        })
    );
}

#[tokio::test]
async fn tagged_and_update_sends_carry_their_messaging_type() {
    let (base, seen) = platform(200, json!({"recipient_id": PSID, "message_id": "m_1"})).await;
    let client = messenger(&base);
    client
        .send_text(
            &psid(),
            "A human here",
            &MessagingType::MessageTag("HUMAN_AGENT".into()),
            None,
        )
        .await
        .unwrap();
    client
        .send_text(&psid(), "News", &MessagingType::Update, None)
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].json(),
        json!({"recipient": {"id": PSID}, "messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT",
               "message": {"text": "A human here"}})
    );
    assert_eq!(
        seen[1].json(),
        json!({"recipient": {"id": PSID}, "messaging_type": "UPDATE", "message": {"text": "News"}})
    );
}

#[tokio::test]
async fn graph_errors_are_classified_by_code_and_never_leak_the_token() {
    use SendErrorClass::*;
    let cases = [
        (400, 10, Some(2018278), WindowClosed),
        (400, 551, Some(1545041), RecipientUnavailable),
        (400, 190, Some(463), AuthBroken),
        (400, 613, None, RateLimited),
        (400, 100, Some(2018001), InvalidRecipient),
        (500, 2, None, Transient),
        (400, 100, None, BadRequest),
    ];
    for (status, code, subcode, class) in cases {
        let (base, _) = platform(status, graph_error(code, subcode)).await;
        let err = messenger(&base)
            .send_text(&psid(), "hi", &MessagingType::Response, None)
            .await
            .unwrap_err();
        assert_eq!(err.class, class, "{code}/{subcode:?}: {err:?}");
        assert_eq!((err.code, err.subcode), (Some(code), subcode));
        assert!(!err.not_delivered_to_platform);
        assert!(
            err.detail.contains("AbCdEf123"),
            "fbtrace id kept for support: {}",
            err.detail
        );
        assert_no_secrets(&err);
    }
}

#[tokio::test]
async fn graph_outage_page_is_transient_and_ambiguous() {
    let (base, _) = platform_raw(502, "<html>Bad Gateway</html>".into(), Duration::ZERO).await;
    let err = messenger(&base)
        .send_text(&psid(), "hi", &MessagingType::Response, None)
        .await
        .unwrap_err();
    assert_eq!(err.class, SendErrorClass::Transient);
    assert_eq!(err.code, None);
    assert!(!err.not_delivered_to_platform);
    assert_no_secrets(&err);
}

#[tokio::test]
async fn unparseable_success_is_ambiguous_not_a_failure_to_deliver() {
    let (base, _) = platform_raw(200, "EVENT_RECEIVED".into(), Duration::ZERO).await;
    let err = messenger(&base)
        .send_text(&psid(), "hi", &MessagingType::Response, None)
        .await
        .unwrap_err();
    assert_eq!(err.class, SendErrorClass::Transient);
    assert!(!err.not_delivered_to_platform);
}

#[tokio::test]
async fn messenger_connection_refused_is_known_undelivered() {
    let err = messenger(&refused_url())
        .send_text(&psid(), "hi", &MessagingType::Response, None)
        .await
        .unwrap_err();
    assert_eq!(err.class, SendErrorClass::Transient);
    assert!(err.not_delivered_to_platform, "{err:?}");
    assert_no_secrets(&err);
}

#[tokio::test]
async fn request_that_times_out_after_sending_is_ambiguous() {
    let _ = http_client(); // installs the rustls provider for the custom client below
    let short = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let (base, seen) = platform_raw(200, "{}".into(), Duration::from_secs(10)).await;
    let err = MessengerClient::new(short, &format!("{base}/v23.0"), PAGE_TOKEN)
        .send_text(&psid(), "hi", &MessagingType::Response, None)
        .await
        .unwrap_err();
    assert_eq!(err.class, SendErrorClass::Transient);
    assert!(!err.not_delivered_to_platform, "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 1, "the platform did receive it");
    assert_no_secrets(&err);
}

#[tokio::test]
async fn user_profile_reads_names_and_locale() {
    let (base, seen) = platform(
        200,
        json!({"first_name": "Peter", "last_name": "Chang", "locale": "en_US", "id": PSID}),
    )
    .await;
    let profile = messenger(&base).user_profile(&psid()).await.unwrap();
    assert_eq!(
        profile,
        Profile {
            first_name: Some("Peter".into()),
            last_name: Some("Chang".into()),
            locale: Some("en_US".into())
        }
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].method, Method::GET);
    assert_eq!(seen[0].path, format!("/v23.0/{PSID}"));
    assert_eq!(
        seen[0].query.get("fields").map(String::as_str),
        Some("first_name,last_name,locale")
    );
    assert_eq!(
        seen[0].query.get("access_token").map(String::as_str),
        Some(PAGE_TOKEN)
    );
}

#[tokio::test]
async fn user_profile_without_permission_is_empty_not_an_error() {
    let (base, _) = platform(200, json!({})).await;
    assert_eq!(
        messenger(&base).user_profile(&psid()).await.unwrap(),
        Profile::default()
    );
}

// ---------------------------------------------------------------- Telegram

#[tokio::test]
async fn bot_reply_is_sent_with_the_token_in_the_path() {
    let (base, seen) = platform(
        200,
        json!({"ok": true, "result": {"message_id": 77, "date": 1735689600,
               "chat": {"id": 111, "type": "private"}, "text": "Hi Ann"}}),
    )
    .await;
    let receipt = telegram(&base)
        .send_text(TelegramChatId(111), "Hi Ann")
        .await
        .unwrap();
    assert_eq!(receipt.platform_message_id, "77");
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].path, format!("/bot{BOT_TOKEN}/sendMessage"));
    assert!(seen[0].query.is_empty());
    assert_eq!(seen[0].json(), json!({"chat_id": 111, "text": "Hi Ann"}));
}

#[tokio::test]
async fn telegram_flood_control_is_rate_limited_with_retry_after() {
    let (base, _) = platform(
        429,
        json!({"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 17",
               "parameters": {"retry_after": 17}}),
    )
    .await;
    let err = telegram(&base)
        .send_text(TelegramChatId(111), "hi")
        .await
        .unwrap_err();
    assert_eq!(err.class, SendErrorClass::RateLimited);
    assert_eq!(err.retry_after_secs, Some(17));
    assert_eq!(err.code, Some(429));
    assert_no_secrets(&err);
}

#[tokio::test]
async fn user_who_blocked_the_bot_is_recipient_unavailable() {
    let (base, _) = platform(
        403,
        json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
    )
    .await;
    let err = telegram(&base)
        .send_text(TelegramChatId(111), "hi")
        .await
        .unwrap_err();
    assert_eq!(err.class, SendErrorClass::RecipientUnavailable);
    assert_eq!(err.code, Some(403));
    assert!(err.detail.contains("blocked"), "{}", err.detail);
    assert!(!err.not_delivered_to_platform);
    assert_no_secrets(&err);
}

#[tokio::test]
async fn telegram_errors_are_classified_by_code() {
    use SendErrorClass::*;
    let cases = [
        (
            401,
            json!({"ok": false, "error_code": 401, "description": "Unauthorized"}),
            AuthBroken,
        ),
        (
            400,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: chat not found"}),
            BadRequest,
        ),
        (
            400,
            json!({"ok": false, "error_code": 400, "description": "Bad Request: group chat was upgraded to a supergroup chat",
                   "parameters": {"migrate_to_chat_id": -1001234567890_i64}}),
            InvalidRecipient,
        ),
        (
            409,
            json!({"ok": false, "error_code": 409, "description": "Conflict: terminated by other getUpdates request"}),
            BadRequest,
        ),
        (
            500,
            json!({"ok": false, "error_code": 500, "description": "Internal Server Error"}),
            Transient,
        ),
    ];
    for (status, body, class) in cases {
        let (base, _) = platform(status, body.clone()).await;
        let err = telegram(&base)
            .send_text(TelegramChatId(111), "hi")
            .await
            .unwrap_err();
        assert_eq!(err.class, class, "{body}");
        assert_eq!(err.code, Some(i64::from(status)));
        assert_no_secrets(&err);
    }
}

#[tokio::test]
async fn telegram_connection_refused_is_known_undelivered_and_hides_the_token() {
    let err = telegram(&refused_url())
        .send_text(TelegramChatId(111), "hi")
        .await
        .unwrap_err();
    assert_eq!(err.class, SendErrorClass::Transient);
    assert!(err.not_delivered_to_platform, "{err:?}");
    assert_no_secrets(&err);
}

#[tokio::test]
async fn long_poll_returns_raw_updates_and_outlives_the_client_timeout() {
    let _ = http_client();
    // The client's own timeout is shorter than the poll; get_updates must override it.
    let short = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let (base, seen) = platform_raw(
        200,
        json!({"ok": true, "result": [
            {"update_id": 10001, "message": {"message_id": 1, "date": 1, "chat": {"id": 111, "type": "private"}, "text": "hi"}},
            {"update_id": 10002, "my_chat_member": {}},
        ]})
        .to_string(),
        Duration::from_millis(800),
    )
    .await;
    let updates = TelegramClient::new(short, &base, BOT_TOKEN)
        .get_updates(Some(10001), 1)
        .await
        .unwrap();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[1]["update_id"], 10002);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].path, format!("/bot{BOT_TOKEN}/getUpdates"));
    assert_eq!(seen[0].json(), json!({"offset": 10001, "timeout": 1}));
}

#[tokio::test]
async fn first_long_poll_sends_no_offset() {
    let (base, seen) = platform(200, json!({"ok": true, "result": []})).await;
    assert!(
        telegram(&base)
            .get_updates(None, 0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(seen.lock().unwrap()[0].json(), json!({"timeout": 0}));
}

#[tokio::test]
async fn webhook_management_calls_send_the_documented_parameters() {
    let (base, seen) = platform(200, json!({"ok": true, "result": true})).await;
    let client = telegram(&base);
    client
        .set_webhook("https://sb.example/tg/1", Some("sec_ret-1"))
        .await
        .unwrap();
    client
        .set_webhook("https://sb.example/tg/1", None)
        .await
        .unwrap();
    client.delete_webhook().await.unwrap();
    client
        .answer_callback_query("4382bfdwdsb323b2d9", Some("Saved"))
        .await
        .unwrap();
    client
        .answer_callback_query("4382bfdwdsb323b2d9", None)
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let calls: Vec<(String, Value)> = seen
        .iter()
        .map(|r| {
            (
                r.path
                    .trim_start_matches(&format!("/bot{BOT_TOKEN}/"))
                    .to_owned(),
                r.json(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            (
                "setWebhook".to_owned(),
                json!({"url": "https://sb.example/tg/1", "secret_token": "sec_ret-1"})
            ),
            (
                "setWebhook".to_owned(),
                json!({"url": "https://sb.example/tg/1"})
            ),
            ("deleteWebhook".to_owned(), json!({})),
            (
                "answerCallbackQuery".to_owned(),
                json!({"callback_query_id": "4382bfdwdsb323b2d9", "text": "Saved"})
            ),
            (
                "answerCallbackQuery".to_owned(),
                json!({"callback_query_id": "4382bfdwdsb323b2d9"})
            ),
        ]
    );
}

#[tokio::test]
async fn get_me_returns_the_bot_user() {
    let (base, _) = platform(
        200,
        json!({"ok": true, "result": {"id": 7354627181_i64, "is_bot": true, "first_name": "Shop", "username": "shop_bot"}}),
    )
    .await;
    let me = telegram(&base).get_me().await.unwrap();
    assert_eq!(me["username"], "shop_bot");
}

#[tokio::test]
async fn revoked_bot_token_is_auth_broken_even_without_json() {
    let (base, _) = platform_raw(401, "Unauthorized".into(), Duration::ZERO).await;
    let err = telegram(&base).get_me().await.unwrap_err();
    assert_eq!(err.class, SendErrorClass::AuthBroken);
    assert_no_secrets(&err);
}
