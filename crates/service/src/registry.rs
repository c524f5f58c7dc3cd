//! Channels in memory: the stored record plus a ready platform client, loaded on first use.
//!
//! Other nodes may create or change channels, so a cache miss falls back to the database and an
//! entry is re-read once it is older than [`MAX_AGE`]; a change made through this node's API is
//! seen at once ([`ChannelRegistry::reload`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use switchboard_automation::config::ChannelAutomations;
use switchboard_channels::messenger::MessengerClient;
use switchboard_channels::telegram::TelegramClient;
use switchboard_domain::{ChannelId, ChannelKind, ChannelSettings};
use switchboard_storage::{ChannelRecord, Store, StoreError, StoredAutomations};

/// How long a cached channel is trusted before it is re-read (changes made on other nodes).
const MAX_AGE: Duration = Duration::from_secs(10);

/// A channel ready to talk to its platform.
pub struct LiveChannel {
    pub record: ChannelRecord,
    pub client: PlatformClient,
    /// Its automations (the saved document, or what the channel's `default_reply` implies).
    pub automations: Arc<ChannelAutomations>,
    /// Signs outgoing automation webhooks; `None` until automations are saved.
    pub automation_secret: Option<String>,
    loaded_at: Instant,
}

#[derive(Clone)]
pub enum PlatformClient {
    Messenger(MessengerClient),
    Telegram(TelegramClient),
}

#[derive(Clone)]
pub struct ChannelRegistry {
    store: Store,
    http: reqwest::Client,
    graph_api_url: Arc<str>,
    telegram_api_url: Arc<str>,
    live: Arc<RwLock<HashMap<ChannelId, Arc<LiveChannel>>>>,
}

impl ChannelRegistry {
    pub fn new(
        store: Store,
        http: reqwest::Client,
        graph_api_url: &str,
        telegram_api_url: &str,
    ) -> Self {
        ChannelRegistry {
            store,
            http,
            graph_api_url: graph_api_url.into(),
            telegram_api_url: telegram_api_url.into(),
            live: Arc::default(),
        }
    }

    pub async fn get(&self, id: ChannelId) -> Result<Arc<LiveChannel>, StoreError> {
        if let Some(found) = self.live.read().unwrap_or_else(|p| p.into_inner()).get(&id)
            && found.loaded_at.elapsed() < MAX_AGE
        {
            return Ok(found.clone());
        }
        self.reload(id).await
    }

    /// Re-reads a channel after it changed.
    pub async fn reload(&self, id: ChannelId) -> Result<Arc<LiveChannel>, StoreError> {
        let record = self.store.get_channel(id).await?;
        let stored = self.store.get_automations(id).await?;
        Ok(self.insert_with(record, stored))
    }

    /// Makes a freshly stored channel live.
    pub fn insert(&self, record: ChannelRecord) -> Arc<LiveChannel> {
        self.insert_with(record, None)
    }

    fn insert_with(
        &self,
        record: ChannelRecord,
        stored: Option<StoredAutomations>,
    ) -> Arc<LiveChannel> {
        let (automations, automation_secret) = match stored {
            Some(s) => match serde_json::from_str::<ChannelAutomations>(&s.config) {
                Ok(config) => (config, Some(s.secret)),
                Err(e) => {
                    tracing::error!(channel = %record.id, error = %e, "stored automations unreadable; automations off");
                    (ChannelAutomations::default(), Some(s.secret))
                }
            },
            None => (
                legacy_automations(record.default_reply.as_deref(), record.kind),
                None,
            ),
        };
        let client = match &record.settings {
            ChannelSettings::Messenger(m) => PlatformClient::Messenger(MessengerClient::new(
                self.http.clone(),
                &self.graph_api_url,
                &m.page_access_token,
            )),
            ChannelSettings::Telegram(t) => PlatformClient::Telegram(TelegramClient::new(
                self.http.clone(),
                &self.telegram_api_url,
                &t.bot_token,
            )),
        };
        let live = Arc::new(LiveChannel {
            record,
            client,
            automations: Arc::new(automations),
            automation_secret,
            loaded_at: Instant::now(),
        });
        self.live
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(live.record.id, live.clone());
        live
    }
}

/// What a channel's automations are when none were saved: the foundation's default reply (from
/// the channel's `default_reply`), if any.
pub fn legacy_automations(default_reply: Option<&str>, kind: ChannelKind) -> ChannelAutomations {
    let _ = kind;
    let mut config = ChannelAutomations::default();
    if let Some(reply) = default_reply {
        config.default_reply = switchboard_automation::config::AutoMessage::on(
            switchboard_automation::localized::Localized::new(
                switchboard_domain::OutgoingMessage::text(reply),
            ),
        );
    }
    config
}
