//! `switchboard-emulator`: a local fake of the Messenger Graph API subset and the
//! Telegram Bot API subset that Switchboard uses.
//!
//! It deliberately depends on no other Switchboard crate and speaks only the
//! platforms' raw JSON, so it checks Switchboard's adapters independently
//! instead of agreeing with them by construction.
//!
//! Three faces:
//! * the platform APIs (`/vNN.N/...` Graph paths and `/bot<token>/<method>`),
//! * a webhook driver (a simulated customer acts; the emulator builds, signs
//!   and POSTs the platform's webhook payload),
//! * a control plane (call log, fault injection, clock) both as Rust methods on
//!   [`EmulatorHandle`] and over HTTP under `/_emulator/`.
//!
//! Choices worth knowing:
//! * Graph errors are HTTP 400 for every code, 190 included (graph.facebook.com
//!   answers invalid tokens with 400 too). Injected `GraphError`s use the
//!   status they carry.
//! * Send API checks run in this order: token (104 missing / 190 unknown),
//!   recipient, unknown PSID (100/2018001), blocked (551/1545041), `message`
//!   with `sender_action` (100/2018014), message limits (100), messaging type
//!   and tag (deprecated or unknown tag: 100), window (10/2018278: 24 h, or
//!   7 days for `HUMAN_AGENT`; `UTILITY` needs `message.template` and skips
//!   it). Only `recipient.id` recipients are emulated.
//! * Telegram call records use the bot token as `credential`. Only private
//!   chats exist; a user gets one by acting through the driver or
//!   `telegram_register_user`.
//! * A Telegram update driven while no webhook is set is queued for
//!   `getUpdates`; its `DeliveryResult` is `status: 0, ok: true`.
//! * A `DropConnection` fault is logged with status 0; the TCP connection is
//!   closed before any response byte is written.

mod calls;
mod control;
mod customer_view;
mod driver;
mod faults;
mod graph;
mod graph_rules;
mod json_ascii;
mod params;
mod server;
mod state;
mod telegram;
mod telegram_format;
mod telegram_updates;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use calls::CallRecord;
pub use faults::{Fault, FaultRule};
pub use telegram::TELEGRAM_METHODS;

use state::Inner;

/// How an emulator instance behaves. Use `..Default::default()` for the fields
/// you do not care about; more knobs may be added.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Where to listen. Default `127.0.0.1:0` (an ephemeral port).
    pub listen: SocketAddr,
    /// After each successful Messenger send, POST signed `delivery` and `read`
    /// webhooks for it. Default false.
    pub auto_receipts: bool,
    /// Enforce Telegram's per-chat (~1 msg/s, small burst) and per-bot
    /// (~30 msg/s) limits with 429s. Default true; a throughput benchmark turns
    /// it off.
    pub telegram_rate_limits: bool,
    /// Delay before each automatic receipt (delivery, then read). Default 20 ms.
    pub receipt_delay: Duration,
    /// Timeout of one webhook POST made by the driver. Default 10 s.
    pub webhook_timeout: Duration,
    /// First backoff step of webhook redelivery (both platforms). Default 50 ms.
    pub webhook_retry_initial: Duration,
    /// Cap of the doubling webhook redelivery backoff. Real Telegram caps at
    /// 60-120 s; tests want it small. Default 1 s.
    pub webhook_retry_cap: Duration,
    /// How many times a Messenger delivery that got a non-200 answer is retried
    /// in the background. Default 3.
    pub messenger_retry_attempts: u32,
    /// After failing this long (emulator clock), a page's webhook is disabled
    /// and the app counts as unsubscribed, like Meta does after 1 h. A
    /// `POST /{page}/subscribed_apps` or `set_page_webhook` re-enables it.
    pub messenger_disable_after: Duration,
    /// How many call records are retained (oldest dropped first). Counters used
    /// by `count_calls` stay exact regardless. Default 100 000.
    pub call_log_capacity: usize,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            auto_receipts: false,
            telegram_rate_limits: true,
            receipt_delay: Duration::from_millis(20),
            webhook_timeout: Duration::from_secs(10),
            webhook_retry_initial: Duration::from_millis(50),
            webhook_retry_cap: Duration::from_secs(1),
            messenger_retry_attempts: 3,
            messenger_disable_after: Duration::from_secs(3600),
            call_log_capacity: 100_000,
        }
    }
}

/// The two emulated platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Messenger,
    Telegram,
}

impl Platform {
    pub(crate) fn index(self) -> usize {
        match self {
            Platform::Messenger => 0,
            Platform::Telegram => 1,
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "messenger" | "facebook" | "graph" => Ok(Platform::Messenger),
            "telegram" => Ok(Platform::Telegram),
            other => Err(format!("unknown platform {other:?}")),
        }
    }
}

/// A Facebook Page as the emulator knows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageSpec {
    pub page_id: String,
    pub access_token: String,
    pub app_secret: String,
    #[serde(default)]
    pub webhook_url: Option<String>,
    #[serde(default)]
    pub verify_token: Option<String>,
}

impl PageSpec {
    pub fn new(
        page_id: impl Into<String>,
        access_token: impl Into<String>,
        app_secret: impl Into<String>,
    ) -> Self {
        PageSpec {
            page_id: page_id.into(),
            access_token: access_token.into(),
            app_secret: app_secret.into(),
            webhook_url: None,
            verify_token: None,
        }
    }

    pub fn with_webhook(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    pub fn with_verify_token(mut self, token: impl Into<String>) -> Self {
        self.verify_token = Some(token.into());
        self
    }
}

/// A Telegram bot as the emulator knows it. The webhook is set later, through
/// `setWebhook` (as Switchboard does) or [`EmulatorHandle::set_bot_webhook`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BotSpec {
    /// `<bot id>:<secret>`; the numeric prefix becomes the bot's user id.
    pub token: String,
    pub username: String,
    pub first_name: String,
}

impl BotSpec {
    pub fn new(token: impl Into<String>, username: impl Into<String>) -> Self {
        let username = username.into();
        BotSpec {
            token: token.into(),
            first_name: username.clone(),
            username,
        }
    }
}

/// A Telegram user (the `User` object of the Bot API, minus `is_bot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramUser {
    pub id: i64,
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub language_code: Option<String>,
}

impl TelegramUser {
    pub fn new(id: i64, first_name: impl Into<String>) -> Self {
        TelegramUser {
            id,
            first_name: first_name.into(),
            last_name: None,
            username: None,
            language_code: None,
        }
    }

    pub fn with_last_name(mut self, v: impl Into<String>) -> Self {
        self.last_name = Some(v.into());
        self
    }

    pub fn with_username(mut self, v: impl Into<String>) -> Self {
        self.username = Some(v.into());
        self
    }

    pub fn with_language(mut self, v: impl Into<String>) -> Self {
        self.language_code = Some(v.into());
        self
    }
}

/// Profile a Messenger user exposes through the User Profile API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessengerUserProfile {
    pub first_name: String,
    pub last_name: String,
    #[serde(default)]
    pub profile_pic: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub timezone: Option<f64>,
    #[serde(default)]
    pub gender: Option<String>,
}

/// What a webhook answered to one driver delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryResult {
    /// HTTP status, or 0 when no HTTP answer was obtained (connection failed,
    /// no webhook configured, webhook disabled).
    pub status: u16,
    /// Response body, or a description of why there was no answer.
    pub body: String,
    /// Whether the platform would count this as acknowledged: Messenger wants
    /// 200, Telegram any 2xx; for `messenger_verify_webhook` it additionally
    /// requires the challenge to be echoed.
    pub ok: bool,
}

impl DeliveryResult {
    pub(crate) fn failed(body: impl Into<String>) -> Self {
        DeliveryResult {
            status: 0,
            body: body.into(),
            ok: false,
        }
    }
}

/// Starts emulator instances.
pub struct Emulator;

impl Emulator {
    /// Binds `config.listen` and serves until [`EmulatorHandle::shutdown`] (or
    /// the end of the tokio runtime).
    pub async fn start(config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
        // reqwest is built without a default crypto provider (workspace choice);
        // it panics unless one is installed process-wide. Installing twice is a
        // harmless error, hence `let _`.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(std::io::Error::other)?;
        let inner = Arc::new(Inner::new(config, addr, http));
        let router = control::router(inner.clone());
        let task = tokio::spawn(server::serve(listener, router));
        Ok(EmulatorHandle {
            inner,
            server: Arc::new(task.abort_handle()),
        })
    }
}

/// Handle to a running emulator. Cheap to clone; all clones share one state.
#[derive(Clone)]
pub struct EmulatorHandle {
    inner: Arc<Inner>,
    server: Arc<tokio::task::AbortHandle>,
}

impl std::fmt::Debug for EmulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorHandle")
            .field("base_url", &self.inner.base_url)
            .finish()
    }
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// Base plus `/v23.0`; Switchboard appends `/me/messages` and friends.
    pub fn graph_api_url(&self) -> String {
        format!("{}/v23.0", self.inner.base_url)
    }

    /// Same as the base URL; Switchboard appends `/bot<token>/<method>`.
    pub fn telegram_api_url(&self) -> String {
        self.inner.base_url.clone()
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Stops accepting connections. Connections already open finish their
    /// current request.
    pub fn shutdown(&self) {
        self.server.abort();
    }

    // ---- Messenger setup -------------------------------------------------

    /// Registers (or replaces) a page.
    pub fn add_page(&self, page: PageSpec) {
        self.inner.messenger_add_page(page);
    }

    /// Sets the page's webhook URL and re-enables a disabled webhook.
    pub fn set_page_webhook(&self, page_id: &str, url: &str) {
        self.inner.messenger_set_webhook(page_id, url);
    }

    /// Makes `psid` a known user of the page whose 24 h window opens now, as if
    /// they had just written, without any webhook delivery. For tests that
    /// deliver hand-built payloads and for benchmarks.
    pub fn messenger_register_user(&self, page_id: &str, psid: &str) {
        self.inner.messenger_user_acted(page_id, psid, true);
    }

    /// Makes `psid` a known user of the page with this profile, without
    /// opening the messaging window.
    pub fn messenger_set_user_profile(
        &self,
        page_id: &str,
        psid: &str,
        profile: MessengerUserProfile,
    ) {
        self.inner.messenger_set_profile(page_id, psid, profile);
    }

    /// The user blocks the page: later sends fail with 551/1545041.
    pub fn messenger_user_blocks_page(&self, page_id: &str, psid: &str) {
        self.inner.messenger_set_blocked(page_id, psid, true);
    }

    pub fn messenger_user_unblocks_page(&self, page_id: &str, psid: &str) {
        self.inner.messenger_set_blocked(page_id, psid, false);
    }

    // ---- Telegram setup --------------------------------------------------

    /// Registers (or replaces) a bot.
    pub fn add_bot(&self, bot: BotSpec) {
        self.inner.telegram_add_bot(bot);
    }

    /// Sets the webhook as if `setWebhook` had been called (any URL accepted).
    pub fn set_bot_webhook(&self, token: &str, url: &str, secret_token: Option<&str>) {
        telegram_updates::set_webhook_direct(&self.inner, token, url, secret_token);
    }

    /// Makes the user's private chat known to the bot without sending an
    /// update (as if the user had started the bot long ago).
    pub fn telegram_register_user(&self, bot_token: &str, user: TelegramUser) {
        self.inner.telegram_register_user(bot_token, &user);
    }

    // ---- Messenger driver ------------------------------------------------

    /// The user sends a text message to the page.
    pub async fn messenger_user_sends_text(
        &self,
        page_id: &str,
        psid: &str,
        text: &str,
    ) -> DeliveryResult {
        let event = serde_json::json!({ "message": { "text": text } });
        driver::messenger_user_event(&self.inner, page_id, psid, event).await
    }

    /// The user causes one `messaging[]` event; `event` is the item without
    /// `sender`/`recipient`/`timestamp` (e.g. `{"postback":{..}}`).
    pub async fn messenger_user_event(
        &self,
        page_id: &str,
        psid: &str,
        event: serde_json::Value,
    ) -> DeliveryResult {
        driver::messenger_user_event(&self.inner, page_id, psid, event).await
    }

    /// POSTs exactly `body` to the page's webhook with the chosen signature.
    /// With `Signing::Valid` the events in it count as having happened: their
    /// senders become known users and window-opening events open the window.
    pub async fn messenger_deliver_raw(
        &self,
        page_id: &str,
        body: Vec<u8>,
        signing: Signing,
    ) -> DeliveryResult {
        driver::messenger_deliver_raw(&self.inner, page_id, body, signing).await
    }

    /// Performs Meta's `hub.challenge` GET against the page's webhook.
    pub async fn messenger_verify_webhook(&self, page_id: &str) -> DeliveryResult {
        driver::messenger_verify_webhook(&self.inner, page_id).await
    }

    // ---- Telegram driver -------------------------------------------------

    pub async fn telegram_user_sends_text(
        &self,
        bot_token: &str,
        user: TelegramUser,
        text: &str,
    ) -> DeliveryResult {
        driver::telegram_user_sends_text(&self.inner, bot_token, user, text).await
    }

    /// `update_payload` is the Update without `update_id`, e.g.
    /// `{"callback_query":{"data":"y"}}`; missing ids, `from`, `chat` and dates
    /// are filled in.
    pub async fn telegram_user_update(
        &self,
        bot_token: &str,
        user: TelegramUser,
        update_payload: serde_json::Value,
    ) -> DeliveryResult {
        driver::telegram_user_update(&self.inner, bot_token, user, update_payload).await
    }

    /// `my_chat_member` with status `kicked`; later sends to the chat get 403.
    pub async fn telegram_user_blocks(
        &self,
        bot_token: &str,
        user: TelegramUser,
    ) -> DeliveryResult {
        driver::telegram_block(&self.inner, bot_token, user, true).await
    }

    pub async fn telegram_user_unblocks(
        &self,
        bot_token: &str,
        user: TelegramUser,
    ) -> DeliveryResult {
        driver::telegram_block(&self.inner, bot_token, user, false).await
    }

    /// POSTs exactly `body` to the bot's webhook with the given secret header
    /// (none when `secret` is `None`).
    pub async fn telegram_deliver_raw(
        &self,
        bot_token: &str,
        body: Vec<u8>,
        secret: Option<&str>,
    ) -> DeliveryResult {
        driver::telegram_deliver_raw(&self.inner, bot_token, body, secret).await
    }

    // ---- call log --------------------------------------------------------

    /// Every API request made to the emulator (not webhook deliveries), oldest
    /// first, up to `call_log_capacity`.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.inner.calls.all()
    }

    pub fn calls_matching(&self, platform: Platform, method: &str) -> Vec<CallRecord> {
        self.inner.calls.matching(platform, method, false)
    }

    /// O(1): served from counters, not from the log.
    pub fn count_calls(&self, platform: Platform, method: &str, only_successful: bool) -> usize {
        self.inner.calls.count(platform, method, only_successful)
    }

    /// What a Messenger person has received from the page, oldest first, as they see it
    /// (text, media, buttons, quick replies, cards, persona). See `customer_view`.
    pub fn messenger_received(&self, page_id: &str, psid: &str) -> Vec<serde_json::Value> {
        customer_view::messenger(&self.inner, page_id, psid)
    }

    /// What a Telegram user has in their chat with the bot now (edits and deletions applied).
    pub fn telegram_received(&self, bot_token: &str, chat_id: i64) -> Vec<serde_json::Value> {
        customer_view::telegram(&self.inner, bot_token, chat_id).unwrap_or_default()
    }

    pub fn clear_calls(&self) {
        self.inner.calls.clear();
    }

    /// Waits until at least `n` successful (2xx) calls of `method` were made,
    /// or `timeout` passed; returns the successful calls it has.
    pub async fn wait_for_calls(
        &self,
        platform: Platform,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<CallRecord> {
        self.inner
            .calls
            .wait_for(platform, method, n, timeout)
            .await
    }

    // ---- faults and clock ------------------------------------------------

    pub fn inject(&self, rule: FaultRule) {
        self.inner.faults.add(rule);
    }

    pub fn clear_faults(&self) {
        self.inner.faults.clear();
    }

    /// Moves the emulator's "now" forward (window checks, timestamps, rate
    /// limit buckets, update retention).
    pub fn advance_clock(&self, by: Duration) {
        self.inner.clock.advance(by);
    }

    /// The emulator's "now" in epoch milliseconds.
    pub fn now_millis(&self) -> i64 {
        self.inner.clock.now_ms()
    }
}

/// How `messenger_deliver_raw` signs the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signing {
    /// Correct `X-Hub-Signature-256` and `X-Hub-Signature` headers.
    Valid,
    /// Well-formed headers with a wrong HMAC.
    Invalid,
    /// No signature headers at all.
    Missing,
}
