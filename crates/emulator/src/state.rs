//! Shared emulator state: one lock per concern (Messenger pages, each Telegram
//! bot, the call log, the fault rules), plus a shiftable clock.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::Notify;

use crate::calls::{CallLog, NewCall};
use crate::faults::FaultSet;
use crate::{BotSpec, EmulatorConfig, MessengerUserProfile, PageSpec, TelegramUser};

/// Real time plus an offset moved by `advance_clock`.
pub(crate) struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    pub fn now_secs(&self) -> i64 {
        self.now_ms() / 1000
    }

    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

pub(crate) struct Inner {
    pub config: EmulatorConfig,
    pub addr: SocketAddr,
    pub base_url: String,
    pub clock: Clock,
    pub calls: CallLog,
    pub faults: FaultSet,
    /// Client for webhook deliveries.
    pub http: reqwest::Client,
    pub messenger: RwLock<MessengerState>,
    pub bots: RwLock<HashMap<String, Arc<Bot>>>,
}

// ---- Messenger -------------------------------------------------------------

#[derive(Default)]
pub(crate) struct MessengerState {
    pub pages: HashMap<String, Page>,
    /// access token -> page id
    pub tokens: HashMap<String, String>,
}

pub(crate) struct Page {
    pub spec: PageSpec,
    pub users: HashMap<String, MessengerUser>,
    /// Messenger Profile API properties (`get_started`, `greeting`, ...).
    pub profile: serde_json::Map<String, Value>,
    /// Ids handed out by `message_attachments` (or `is_reusable` sends).
    pub attachments: HashSet<String>,
    /// Personas created with `POST /{page}/personas`: id -> (name, profile_picture_url).
    pub personas: HashMap<String, (String, String)>,
    /// `subscribed_apps`; Meta unsubscribes after an hour of failures.
    pub subscribed: bool,
    pub subscribed_fields: Vec<String>,
    /// Emulator time of the first failure in the current failure streak.
    pub failing_since: Option<i64>,
}

#[derive(Default)]
pub(crate) struct MessengerUser {
    /// Last action that opens/resets the 24 h window (A9), epoch ms.
    pub last_window_ms: Option<i64>,
    pub blocked: bool,
    pub profile: Option<MessengerUserProfile>,
}

/// Everything a webhook POST for a page needs, copied out of the lock.
pub(crate) struct PageTarget {
    pub url: Option<String>,
    pub app_secret: String,
    pub verify_token: Option<String>,
    pub subscribed: bool,
}

// ---- Telegram --------------------------------------------------------------

pub(crate) struct Bot {
    pub spec: BotSpec,
    /// The numeric prefix of the token, as real bot ids are.
    pub bot_id: i64,
    /// Wakes long-polling `getUpdates` calls.
    pub notify: Notify,
    pub state: Mutex<BotState>,
}

impl Bot {
    pub fn lock(&self) -> MutexGuard<'_, BotState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn user_json(&self) -> Value {
        serde_json::json!({
            "id": self.bot_id,
            "is_bot": true,
            "first_name": self.spec.first_name,
            "username": self.spec.username,
        })
    }
}

pub(crate) struct BotState {
    pub webhook: Option<Webhook>,
    pub last_error: Option<(i64, String)>,
    /// `None` = the default set (everything except chat_member and reactions).
    pub allowed_updates: Option<Vec<String>>,
    pub next_update_id: i64,
    /// Updates not yet confirmed (getUpdates) or not yet acknowledged (webhook).
    pub pending: VecDeque<PendingUpdate>,
    pub worker_running: bool,
    /// Bumped by each getUpdates so an older long poll ends with 409.
    pub poll_generation: u64,
    pub chats: HashMap<i64, Chat>,
    /// callback query id -> answered
    pub callback_queries: HashMap<String, bool>,
    pub global_bucket: Bucket,
    pub commands: Value,
    /// `setMyDescription` by language code ("" = default).
    pub descriptions: HashMap<String, String>,
    pub file_seq: u64,
    /// Every file id the bot has seen, for getFile and downloads.
    pub files: HashMap<String, StoredFile>,
}

/// A file the Bot API knows: what `getFile` says about it, and its bytes when it was uploaded
/// (a file sent by URL is never fetched: the emulator has no internet).
#[derive(Clone)]
pub(crate) struct StoredFile {
    pub unique_id: String,
    pub size: u64,
    pub path: String,
    pub bytes: Option<bytes::Bytes>,
}

#[derive(Clone)]
pub(crate) struct Webhook {
    pub url: String,
    pub secret: Option<String>,
    pub max_connections: u32,
}

#[derive(Clone)]
pub(crate) struct PendingUpdate {
    pub update_id: i64,
    pub created_ms: i64,
    pub update: Value,
}

pub(crate) struct Chat {
    pub user: TelegramUser,
    pub blocked: bool,
    /// Shared by the user's and the bot's messages, like a real private chat.
    pub next_message_id: i64,
    pub bucket: Bucket,
    /// The bot's recent messages, for editMessageText / deleteMessage.
    pub recent: VecDeque<SentMessage>,
    /// The user's recent messages, which the bot may reply to.
    pub received: VecDeque<SentMessage>,
}

pub(crate) struct SentMessage {
    pub message_id: i64,
    pub message: Value,
    /// A reply keyboard sent with it: the person sees it, the Message object does not say so.
    pub reply_keyboard: Option<Value>,
}

fn push_bounded(list: &mut VecDeque<SentMessage>, message: &Value, reply_keyboard: Option<Value>) {
    let Some(message_id) = message["message_id"].as_i64() else {
        return;
    };
    if list.len() >= RECENT_PER_CHAT {
        list.pop_front();
    }
    list.push_back(SentMessage {
        message_id,
        message: message.clone(),
        reply_keyboard,
    });
}

/// Messages kept per chat for edits and deletes; enough for any flow test
/// while bounding memory in benchmarks.
pub(crate) const RECENT_PER_CHAT: usize = 64;

impl Chat {
    pub fn new(user: TelegramUser, now_ms: i64) -> Self {
        Chat {
            user,
            blocked: false,
            next_message_id: 1,
            bucket: Bucket::full(CHAT_BURST, now_ms),
            recent: VecDeque::new(),
            received: VecDeque::new(),
        }
    }

    /// A message of this chat (the bot's or the user's) still remembered.
    pub fn find_message(&self, message_id: i64) -> Option<&Value> {
        self.recent
            .iter()
            .chain(self.received.iter())
            .find(|m| m.message_id == message_id)
            .map(|m| &m.message)
    }

    /// Remembers one of the user's messages (bounded like the bot's).
    pub fn remember_received(&mut self, message: &Value) {
        push_bounded(&mut self.received, message, None);
    }

    /// Remembers one of the bot's messages, with the reply keyboard it showed.
    pub fn remember_sent(&mut self, message: &Value, reply_keyboard: Option<Value>) {
        push_bounded(&mut self.recent, message, reply_keyboard);
    }

    pub fn take_message_id(&mut self) -> i64 {
        let id = self.next_message_id;
        self.next_message_id += 1;
        id
    }

    pub fn chat_json(&self) -> Value {
        let mut chat = serde_json::json!({
            "id": self.user.id,
            "first_name": self.user.first_name,
            "type": "private",
        });
        if let Some(v) = &self.user.last_name {
            chat["last_name"] = Value::from(v.as_str());
        }
        if let Some(v) = &self.user.username {
            chat["username"] = Value::from(v.as_str());
        }
        chat
    }
}

pub(crate) fn tg_user_json(u: &TelegramUser) -> Value {
    let mut v = serde_json::json!({ "id": u.id, "is_bot": false, "first_name": u.first_name });
    if let Some(x) = &u.last_name {
        v["last_name"] = Value::from(x.as_str());
    }
    if let Some(x) = &u.username {
        v["username"] = Value::from(x.as_str());
    }
    if let Some(x) = &u.language_code {
        v["language_code"] = Value::from(x.as_str());
    }
    v
}

/// Per-chat burst and sustained rate: Telegram tolerates short bursts to one chat and about one
/// message a second on average (core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this);
/// the burst of 10 is our choice, the FAQ gives no number.
pub(crate) const CHAT_BURST: f64 = 10.0;
pub(crate) const CHAT_RATE: f64 = 1.0;
/// Per-bot broadcast limit (~30 messages per second overall).
pub(crate) const GLOBAL_BURST: f64 = 30.0;
pub(crate) const GLOBAL_RATE: f64 = 30.0;

/// Token bucket driven by the emulator clock, so `advance_clock` refills it.
pub(crate) struct Bucket {
    tokens: f64,
    last_ms: i64,
}

impl Bucket {
    pub fn full(capacity: f64, now_ms: i64) -> Self {
        Bucket {
            tokens: capacity,
            last_ms: now_ms,
        }
    }

    pub fn refill(&mut self, capacity: f64, per_sec: f64, now_ms: i64) {
        let elapsed = (now_ms - self.last_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * per_sec).min(capacity);
        self.last_ms = self.last_ms.max(now_ms);
    }

    /// Seconds until `n` tokens are available (0 = available now).
    pub fn wait_secs_for(&self, n: f64, per_sec: f64) -> u64 {
        if self.tokens >= n {
            0
        } else {
            (((n - self.tokens) / per_sec).ceil() as u64).max(1)
        }
    }

    pub fn take_n(&mut self, n: f64) {
        self.tokens -= n;
    }
}

// ---- Inner -----------------------------------------------------------------

impl Inner {
    pub fn new(config: EmulatorConfig, addr: SocketAddr, http: reqwest::Client) -> Self {
        Inner {
            base_url: format!("http://{addr}"),
            addr,
            clock: Clock {
                offset_ms: AtomicI64::new(0),
            },
            calls: CallLog::new(config.call_log_capacity),
            faults: FaultSet::new(),
            http,
            messenger: RwLock::new(MessengerState::default()),
            bots: RwLock::new(HashMap::new()),
            config,
        }
    }

    pub fn record(&self, call: NewCall) {
        self.calls.record(call, self.clock.now_ms());
    }

    pub fn m_read(&self) -> RwLockReadGuard<'_, MessengerState> {
        self.messenger.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn m_write(&self) -> RwLockWriteGuard<'_, MessengerState> {
        self.messenger.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn messenger_add_page(&self, spec: PageSpec) {
        let mut m = self.m_write();
        if let Some(old) = m.pages.get(&spec.page_id) {
            let old_token = old.spec.access_token.clone();
            m.tokens.remove(&old_token);
        }
        m.tokens
            .insert(spec.access_token.clone(), spec.page_id.clone());
        match m.pages.get_mut(&spec.page_id) {
            // Re-adding a page keeps its users so a test can rotate tokens.
            Some(page) => page.spec = spec,
            None => {
                let id = spec.page_id.clone();
                m.pages.insert(
                    id,
                    Page {
                        spec,
                        users: HashMap::new(),
                        profile: serde_json::Map::new(),
                        attachments: HashSet::new(),
                        personas: HashMap::new(),
                        subscribed: true,
                        subscribed_fields: Vec::new(),
                        failing_since: None,
                    },
                );
            }
        }
    }

    pub fn messenger_set_webhook(&self, page_id: &str, url: &str) {
        if let Some(page) = self.m_write().pages.get_mut(page_id) {
            page.spec.webhook_url = Some(url.to_owned());
            page.subscribed = true;
            page.failing_since = None;
        }
    }

    pub fn messenger_set_profile(&self, page_id: &str, psid: &str, profile: MessengerUserProfile) {
        if let Some(page) = self.m_write().pages.get_mut(page_id) {
            page.users.entry(psid.to_owned()).or_default().profile = Some(profile);
        }
    }

    pub fn messenger_set_blocked(&self, page_id: &str, psid: &str, blocked: bool) {
        if let Some(page) = self.m_write().pages.get_mut(page_id) {
            page.users.entry(psid.to_owned()).or_default().blocked = blocked;
        }
    }

    /// The user acted; known from now on, and the window resets if the action
    /// opens it. Returns false if the page does not exist.
    pub fn messenger_user_acted(&self, page_id: &str, psid: &str, opens_window: bool) -> bool {
        let now = self.clock.now_ms();
        let mut m = self.m_write();
        let Some(page) = m.pages.get_mut(page_id) else {
            return false;
        };
        let user = page.users.entry(psid.to_owned()).or_default();
        if opens_window {
            user.last_window_ms = Some(now);
        }
        true
    }

    pub fn page_target(&self, page_id: &str) -> Option<PageTarget> {
        let m = self.m_read();
        let page = m.pages.get(page_id)?;
        Some(PageTarget {
            url: page.spec.webhook_url.clone(),
            app_secret: page.spec.app_secret.clone(),
            verify_token: page.spec.verify_token.clone(),
            subscribed: page.subscribed,
        })
    }

    /// Tracks the failure streak; after `messenger_disable_after` the app is
    /// unsubscribed like Meta does. Returns whether the page is still
    /// subscribed.
    pub fn messenger_delivery_outcome(&self, page_id: &str, ok: bool) -> bool {
        let now = self.clock.now_ms();
        let limit =
            i64::try_from(self.config.messenger_disable_after.as_millis()).unwrap_or(i64::MAX);
        let mut m = self.m_write();
        let Some(page) = m.pages.get_mut(page_id) else {
            return false;
        };
        if ok {
            page.failing_since = None;
        } else {
            let since = *page.failing_since.get_or_insert(now);
            if now.saturating_sub(since) >= limit {
                page.subscribed = false;
                tracing::debug!(page_id, "webhook failing too long; app unsubscribed");
            }
        }
        page.subscribed
    }

    // ---- Telegram ----

    pub fn bot(&self, token: &str) -> Option<Arc<Bot>> {
        self.bots
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    pub fn telegram_add_bot(&self, spec: BotSpec) {
        let bot_id = bot_id_from_token(&spec.token);
        let now = self.clock.now_ms();
        // A per-bot base that looks like real update ids and differs between
        // bots, so code that confuses bots' offsets is caught.
        let base = 100_000 + i64::from(fastrand::u32(0..800_000));
        let bot = Bot {
            bot_id,
            notify: Notify::new(),
            state: Mutex::new(BotState {
                webhook: None,
                last_error: None,
                allowed_updates: None,
                next_update_id: base,
                pending: VecDeque::new(),
                worker_running: false,
                poll_generation: 0,
                chats: HashMap::new(),
                callback_queries: HashMap::new(),
                global_bucket: Bucket::full(GLOBAL_BURST, now),
                commands: Value::Array(Vec::new()),
                descriptions: HashMap::new(),
                file_seq: 0,
                files: HashMap::new(),
            }),
            spec,
        };
        self.bots
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(bot.spec.token.clone(), Arc::new(bot));
    }

    pub fn telegram_register_user(&self, token: &str, user: &TelegramUser) {
        if let Some(bot) = self.bot(token) {
            let now = self.clock.now_ms();
            let mut st = bot.lock();
            upsert_chat(&mut st, user, now);
        }
    }
}

/// Creates the private chat on first contact, refreshes the user's names
/// afterwards (users rename themselves).
pub(crate) fn upsert_chat<'a>(
    st: &'a mut BotState,
    user: &TelegramUser,
    now_ms: i64,
) -> &'a mut Chat {
    let chat = st
        .chats
        .entry(user.id)
        .or_insert_with(|| Chat::new(user.clone(), now_ms));
    if chat.user != *user {
        chat.user = user.clone();
    }
    chat
}

fn bot_id_from_token(token: &str) -> i64 {
    let prefix = token.split(':').next().unwrap_or("");
    match prefix.parse::<i64>() {
        Ok(id) if id > 0 => id,
        // Tokens without a numeric prefix still need a stable positive id.
        _ => {
            let h = token.bytes().fold(1_469_598_103_934_665_603u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(1_099_511_628_211)
            });
            (h % 9_000_000_000 + 1_000_000_000) as i64
        }
    }
}

/// Random string from an alphabet, for ids that look like the platforms'.
pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|_| char::from(alphabet[fastrand::usize(..alphabet.len())]))
        .collect()
}

pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub(crate) const URLSAFE: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
pub(crate) const DIGITS: &[u8] = b"0123456789";

/// A fresh Messenger message id (`m_` plus opaque base64url text).
pub(crate) fn new_mid() -> String {
    let mut s = String::with_capacity(66);
    s.push_str("m_");
    s.push_str(&random_string(64, URLSAFE));
    s
}
