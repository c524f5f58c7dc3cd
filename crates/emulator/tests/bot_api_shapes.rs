//! Whatever a client sends to the Bot API — any method, any parameters, any encoding — the
//! emulator answers as Telegram does: `{"ok":true,"result":…}`, or `{"ok":false,"error_code":N,
//! "description":…}` with N as the HTTP status (and `parameters.retry_after` on a 429). Never a
//! 500, never a body of another shape.

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use switchboard_emulator::{EmulatorHandle, TELEGRAM_METHODS, TelegramUser};

const CHAT: i64 = 910_001;

/// Parameter names the methods read. `timeout` (a long poll would make a case last seconds)
/// and `url` (so setWebhook never points deliveries anywhere) are left out.
const KEYS: &[&str] = &[
    "chat_id",
    "text",
    "parse_mode",
    "entities",
    "caption",
    "caption_entities",
    "photo",
    "video",
    "audio",
    "document",
    "voice",
    "media",
    "reply_markup",
    "reply_parameters",
    "reply_to_message_id",
    "allow_sending_without_reply",
    "allow_paid_broadcast",
    "message_id",
    "from_chat_id",
    "file_id",
    "reaction",
    "action",
    "callback_query_id",
    "commands",
    "description",
    "language_code",
    "offset",
    "limit",
    "allowed_updates",
    "inline_message_id",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn shared_emulator() -> &'static EmulatorHandle {
    static EMU: OnceLock<EmulatorHandle> = OnceLock::new();
    EMU.get_or_init(|| {
        runtime().block_on(async {
            let emu = emulator().await;
            emu.telegram_user_sends_text(BOT_TOKEN, TelegramUser::new(CHAT, "Prop"), "hi")
                .await;
            emu
        })
    })
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(CHAT)),
        (1i64..5).prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("HTML"),
            Just("MarkdownV2"),
            Just("<b>x</b>"),
            Just("<i>unclosed"),
            Just("*a* _b_ \\."),
            Just("attach://f"),
            Just("https://shop.test/a.jpg"),
            Just("👋 مرحبا @someone #tag /start"),
        ]
        .prop_map(|s| json!(s)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn params() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(
        prop::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
        value(),
        0..6,
    )
    .prop_map(|m| m.into_iter().collect())
}

/// How the parameters travel: JSON, a form (nested values JSON-encoded, as libraries do), or
/// bytes that are neither.
#[derive(Debug, Clone)]
enum Body {
    Json(Map<String, Value>),
    Form(Map<String, Value>),
    Raw(Vec<u8>, &'static str),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        params().prop_map(Body::Json),
        params().prop_map(Body::Form),
        (
            prop::collection::vec(any::<u8>(), 0..64),
            prop::sample::select(vec![
                "application/json",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=X",
                "multipart/form-data",
                "text/plain",
            ])
        )
            .prop_map(|(b, ct)| Body::Raw(b, ct)),
    ]
}

fn form_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn every_bot_api_request_gets_a_bot_api_answer(
        method in prop::sample::select(
            TELEGRAM_METHODS.iter().copied().chain(["noSuchMethod"]).collect::<Vec<_>>()
        ),
        body in body(),
    ) {
        let emu = shared_emulator();
        let url = format!("{}/bot{BOT_TOKEN}/{method}", emu.base_url());
        let (status, text) = runtime().block_on(async {
            let req = client().post(&url);
            let req = match &body {
                Body::Json(m) => req.json(m),
                Body::Form(m) => {
                    let pairs: Vec<(String, String)> =
                        m.iter().map(|(k, v)| (k.clone(), form_value(v))).collect();
                    req.form(&pairs)
                }
                Body::Raw(bytes, ct) => req.header("content-type", *ct).body(bytes.clone()),
            };
            let r = req.send().await.expect("the emulator answers");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        });
        prop_assert_ne!(status, 500, "{} {:?}: {}", method, body, text);
        let answer: Value = serde_json::from_str(&text)
            .map_err(|e| TestCaseError::fail(format!("not JSON ({e}): {text}")))?;
        if status == 200 {
            prop_assert_eq!(&answer["ok"], &json!(true), "{}", text);
            prop_assert!(answer.get("result").is_some(), "{}", text);
        } else {
            prop_assert_eq!(&answer["ok"], &json!(false), "{}", text);
            prop_assert_eq!(answer["error_code"].as_u64(), Some(u64::from(status)), "{}", text);
            prop_assert!(answer["description"].as_str().is_some_and(|d| !d.is_empty()), "{}", text);
            if status == 429 {
                prop_assert!(answer["parameters"]["retry_after"].as_u64().is_some(), "{}", text);
            }
        }
    }
}
