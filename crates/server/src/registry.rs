//! Channels in memory: the stored record plus a ready platform client, loaded on first use.
//!
//! Other nodes may create channels, so a cache miss falls back to the database.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use switchboard_channels::messenger::MessengerClient;
use switchboard_channels::telegram::TelegramClient;
use switchboard_domain::{ChannelId, ChannelSettings};
use switchboard_storage::{ChannelRecord, Store, StoreError};

/// A channel ready to talk to its platform.
pub struct LiveChannel {
    pub record: ChannelRecord,
    pub client: PlatformClient,
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
        if let Some(found) = self.live.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(found.clone());
        }
        let record = self.store.get_channel(id).await?;
        Ok(self.insert(record))
    }

    /// Makes a freshly stored channel live.
    pub fn insert(&self, record: ChannelRecord) -> Arc<LiveChannel> {
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
        let live = Arc::new(LiveChannel { record, client });
        self.live
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(live.record.id, live.clone());
        live
    }
}
