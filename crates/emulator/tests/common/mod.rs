//! Shared test helpers: an emulator, an HTTP client and a tiny webhook
//! receiver that records exactly what it was sent.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use switchboard_emulator::{BotSpec, Emulator, EmulatorConfig, EmulatorHandle, PageSpec};
use tokio::sync::Notify;

pub const PAGE: &str = "1122334455";
pub const PAGE_TOKEN: &str = "EAAB-page-token";
pub const APP_SECRET: &str = "app-secret-123";
pub const VERIFY_TOKEN: &str = "verify-me";
pub const BOT_TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw";
pub const BOT_NAME: &str = "switchboard_test_bot";

pub async fn emulator() -> EmulatorHandle {
    emulator_with(EmulatorConfig::default()).await
}

pub async fn emulator_with(config: EmulatorConfig) -> EmulatorHandle {
    let emu = Emulator::start(config).await.expect("emulator starts");
    emu.add_page(PageSpec::new(PAGE, PAGE_TOKEN, APP_SECRET).with_verify_token(VERIFY_TOKEN));
    emu.add_bot(BotSpec::new(BOT_TOKEN, BOT_NAME));
    emu
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// POST JSON, return (status, parsed body).
pub async fn post_json(c: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let r = c.post(url).json(body).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json body"))
}

pub async fn get_json(c: &reqwest::Client, url: &str) -> (u16, Value) {
    let r = c.get(url).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.expect("json body"))
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Hit {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    status: Arc<AtomicU16>,
    notify: Arc<Notify>,
}

#[derive(Clone)]
struct RecvState {
    hits: Arc<Mutex<Vec<Hit>>>,
    status: Arc<AtomicU16>,
    notify: Arc<Notify>,
}

async fn record(State(s): State<RecvState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 24)
        .await
        .unwrap_or_default();
    let uri = parts.uri.to_string();
    s.hits.lock().unwrap().push(Hit {
        method: parts.method.to_string(),
        uri: uri.clone(),
        headers: parts.headers,
        body,
    });
    s.notify.notify_waiters();
    // Meta's verification handshake: echo hub.challenge when the token matches.
    if parts.method == axum::http::Method::GET {
        let q: Vec<(String, String)> =
            form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let get = |k: &str| q.iter().find(|(a, _)| a == k).map(|(_, b)| b.clone());
        if get("hub.mode").as_deref() == Some("subscribe")
            && get("hub.verify_token").as_deref() == Some(VERIFY_TOKEN)
        {
            return get("hub.challenge").unwrap_or_default().into_response();
        }
        return StatusCode::FORBIDDEN.into_response();
    }
    let status = StatusCode::from_u16(s.status.load(Ordering::SeqCst)).unwrap();
    (status, "EVENT_RECEIVED").into_response()
}

impl Receiver {
    pub async fn start() -> Receiver {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let notify = Arc::new(Notify::new());
        let state = RecvState {
            hits: hits.clone(),
            status: status.clone(),
            notify: notify.clone(),
        };
        let app = Router::new().fallback(record).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            hits,
            status,
            notify,
        }
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }

    /// POST hits only (verification GETs excluded).
    pub fn posts(&self) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.method == "POST")
            .collect()
    }

    /// Waits until at least `n` POSTs arrived (or panics after `timeout`).
    pub async fn wait_posts(&self, n: usize, timeout: Duration) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let posts = self.posts();
            if posts.len() >= n {
                return posts;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} webhook POSTs, got {}", self.posts().len());
            }
        }
    }
}
