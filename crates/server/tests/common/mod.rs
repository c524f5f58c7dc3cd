//! `spawn_app()`: the real server on a random port, wired to a fresh emulator and a fresh
//! database of the chosen backend.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_emulator::{BotSpec, Emulator, EmulatorConfig, EmulatorHandle, PageSpec, Platform};
use switchboard_server::{Server, ServerConfig, ServerHandle};
use switchboard_storage::testing::TestDatabase;

pub const ADMIN_TOKEN: &str = "test-admin-token";
pub const APP_SECRET: &str = "test-app-secret";
pub const PAGE_TOKEN: &str = "test-page-token";
pub const VERIFY_TOKEN: &str = "test-verify-token";
pub const BOT_SECRET: &str = "test-secret_header-1";
pub const DEFAULT_REPLY: &str = "Thanks for your message! We will answer soon.";

pub struct TestApp {
    pub server: ServerHandle,
    pub emulator: EmulatorHandle,
    pub http: reqwest::Client,
    pub base: String,
    // Dropped last: removes the database after the server has stopped using it.
    pub db: TestDatabase,
}

/// A connected channel as the test sees it.
pub struct Channel {
    pub id: i64,
    pub webhook_url: String,
}

pub async fn spawn_app(db: TestDatabase) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

pub async fn spawn_app_with(db: TestDatabase, tweak: impl FnOnce(&mut ServerConfig)) -> TestApp {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let emulator = Emulator::start(EmulatorConfig {
        telegram_rate_limits: false,
        ..Default::default()
    })
    .await
    .expect("start emulator");
    let mut config = ServerConfig::new(db.url.clone(), SocketAddr::from(([127, 0, 0, 1], 0)));
    config.graph_api_url = emulator.graph_api_url();
    config.telegram_api_url = emulator.telegram_api_url();
    config.admin_token = Some(ADMIN_TOKEN.into());
    tweak(&mut config);
    let server = Server::start(config).await.expect("start server");
    let base = server.base_url();
    TestApp {
        server,
        emulator,
        http: switchboard_channels::http_client(),
        base,
        db,
    }
}

impl TestApp {
    pub async fn post_api(&self, path: &str, body: Value) -> (u16, Value) {
        self.send_api(reqwest::Method::POST, path, body).await
    }

    /// Any method with a JSON body (PUT, PATCH, …), as the admin.
    pub async fn send_api(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let res = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .await
            .expect("api request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_api(&self, path: &str) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("api request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Connects a Messenger page through the API and points the emulator's webhook at it.
    pub async fn connect_page(&self, page_id: &str) -> Channel {
        let (status, body) = self
            .post_api(
                "/api/v1/channels",
                json!({"kind": "messenger", "name": format!("Page {page_id}"), "page_id": page_id,
                       "page_access_token": PAGE_TOKEN, "app_secret": APP_SECRET,
                       "verify_token": VERIFY_TOKEN, "default_reply": DEFAULT_REPLY}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let channel = Channel {
            id: body["id"].as_i64().expect("id"),
            webhook_url: format!(
                "{}{}",
                self.base,
                body["webhook_path"].as_str().expect("webhook_path")
            ),
        };
        self.emulator.add_page(
            PageSpec::new(page_id, PAGE_TOKEN, APP_SECRET)
                .with_webhook(&channel.webhook_url)
                .with_verify_token(VERIFY_TOKEN),
        );
        channel
    }

    /// Connects a Telegram bot through the API; `receive` is `webhook` or `polling`.
    pub async fn connect_bot(&self, token: &str, receive: &str) -> Channel {
        self.emulator.add_bot(BotSpec::new(token, "shop_bot"));
        let (status, body) = self
            .post_api(
                "/api/v1/channels",
                json!({"kind": "telegram", "name": "Shop bot", "bot_token": token, "secret_token": BOT_SECRET,
                       "default_reply": DEFAULT_REPLY, "receive": receive}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let channel = Channel {
            id: body["id"].as_i64().expect("id"),
            webhook_url: format!(
                "{}{}",
                self.base,
                body["webhook_path"].as_str().expect("webhook_path")
            ),
        };
        if receive == "webhook" {
            self.emulator
                .set_bot_webhook(token, &channel.webhook_url, Some(BOT_SECRET));
        }
        channel
    }

    pub async fn contacts(&self, channel: &Channel) -> Vec<Value> {
        let (status, body) = self
            .get_api(&format!("/api/v1/contacts?channel_id={}", channel.id))
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array().cloned().unwrap_or_default()
    }

    /// A Telegram bot (webhook) and a person who wrote `text` to it and got the default reply:
    /// their window is open. Returns the bot and the person's conversation id.
    pub async fn bot_with_a_person_who_wrote(
        &self,
        token: &str,
        person: switchboard_emulator::TelegramUser,
        text: &str,
    ) -> (Channel, i64) {
        let bot = self.connect_bot(token, "webhook").await;
        self.emulator
            .telegram_user_sends_text(token, person, text)
            .await;
        self.emulator
            .wait_for_calls(
                Platform::Telegram,
                "sendMessage",
                1,
                Duration::from_secs(10),
            )
            .await;
        let (_, conversations) = self
            .get_api(&format!("/api/v1/conversations?channel_id={}", bot.id))
            .await;
        let conversation = conversations["items"][0]["id"]
            .as_i64()
            .expect("conversation");
        (bot, conversation)
    }

    /// All messages of the channel's conversation with `external_id` (empty if none).
    pub async fn messages_with(&self, channel: &Channel, external_id: &str) -> Vec<Value> {
        let contacts = self.contacts(channel).await;
        let Some(contact) = contacts.iter().find(|c| c["external_id"] == external_id) else {
            return Vec::new();
        };
        let (_, conversations) = self
            .get_api(&format!("/api/v1/conversations?channel_id={}", channel.id))
            .await;
        let Some(conversation) = conversations["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["contact_id"] == contact["id"])
        else {
            return Vec::new();
        };
        let (status, messages) = self
            .get_api(&format!(
                "/api/v1/conversations/{}/messages",
                conversation["id"]
            ))
            .await;
        assert_eq!(status, 200, "{messages}");
        messages.as_array().cloned().unwrap_or_default()
    }

    /// Waits until every outbound message to `external_id` has left the outbox (sent or failed).
    pub async fn settled_messages(&self, channel: &Channel, external_id: &str) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            // Automatic answers are decided after the commit: wait for those first.
            let deciding = self
                .server
                .store
                .count_open_automation()
                .await
                .expect("count automation");
            let messages = self.messages_with(channel, external_id).await;
            let pending = deciding > 0
                || messages
                    .iter()
                    .any(|m| m["status"] == "queued" || m["status"] == "sending");
            if !pending || tokio::time::Instant::now() > deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn sends(&self, platform: Platform) -> Vec<switchboard_emulator::CallRecord> {
        let method = match platform {
            Platform::Messenger => "messages",
            Platform::Telegram => "sendMessage",
        };
        self.emulator
            .calls_matching(platform, method)
            .into_iter()
            .filter(|c| c.status == 200)
            .collect()
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
        self.emulator.shutdown();
    }
}

/// Waits a little to prove that nothing more happens (e.g. no second reply).
/// Polls `probe` until it finds something (15 s at most, then the test fails).
pub async fn wait_for<T, F, Fut>(mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

pub const PASSWORD: &str = "correct horse battery";

/// Someone logged in through the browser flow: their session cookie and CSRF token.
pub struct Person {
    pub id: i64,
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// Creates a user with the admin token and logs them in.
    pub async fn person(&self, role: &str, email: &str, team_ids: &[i64]) -> Person {
        let (status, user) = self
            .post_api(
                "/api/v1/users",
                json!({"email": email, "name": email.split('@').next().unwrap_or(email),
                       "role": role, "password": PASSWORD, "team_ids": team_ids}),
            )
            .await;
        assert_eq!(status, 201, "{user}");
        let mut person = self.login(email, PASSWORD).await.expect("login");
        person.id = user["id"].as_i64().expect("user id");
        person
    }

    /// Logs in; `Err((status, body))` when refused.
    pub async fn login(&self, email: &str, password: &str) -> Result<Person, (u16, Value)> {
        let res = self
            .http
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login request");
        let status = res.status().as_u16();
        let cookie = res
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if status != 200 {
            return Err((status, body));
        }
        let cookie = cookie.expect("a session cookie");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let value = cookie
            .split(';')
            .next()
            .and_then(|kv| kv.strip_prefix("sb_session="))
            .expect("sb_session=")
            .to_owned();
        Ok(Person {
            id: body["user"]["id"].as_i64().unwrap_or_default(),
            cookie: value,
            csrf: body["csrf_token"].as_str().expect("csrf_token").to_owned(),
        })
    }

    /// A request as `person` (cookie + their CSRF token, or `csrf` instead when given).
    pub async fn as_person(
        &self,
        person: &Person,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        csrf: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", format!("sb_session={}", person.cookie))
            .header("x-csrf-token", csrf.unwrap_or(&person.csrf));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A request with a bearer token.
    pub async fn with_token(
        &self,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

/// A Server-Sent Events stream as a browser's EventSource reads it.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

/// One event: its `id:`, `event:` and parsed `data:`.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub id: String,
    pub kind: String,
    pub data: Value,
}

impl TestApp {
    /// Opens `GET /api/v1/events` as `person`, resuming after `last_event_id` if given.
    pub async fn events(&self, person: &Person, last_event_id: Option<&str>) -> EventStream {
        let mut req = self
            .http
            .get(format!("{}/api/v1/events", self.base))
            .header("cookie", format!("sb_session={}", person.cookie));
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let response = req.send().await.expect("event stream");
        assert_eq!(response.status().as_u16(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        EventStream {
            response,
            buffer: String::new(),
        }
    }
}

impl EventStream {
    /// The next event within `wait`, or `None`.
    pub async fn next(&mut self, wait: Duration) -> Option<StreamEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !kind.is_empty() {
                    return Some(StreamEvent {
                        id,
                        kind,
                        data: serde_json::from_str(&data).unwrap_or(Value::Null),
                    });
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Events until one matches `until` (included), within `wait`.
    pub async fn until(
        &mut self,
        wait: Duration,
        until: impl Fn(&StreamEvent) -> bool,
    ) -> Vec<StreamEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(event) = self.next(left).await else {
                panic!("no matching event within {wait:?}; got {seen:?}");
            };
            let done = until(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }
}
