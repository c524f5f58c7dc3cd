//! Wiring: state, router, background tasks, start and stop.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put};
use switchboard_domain::{ChannelId, ChannelSettings, TelegramReceiveMode};
use switchboard_service::secrets::AdminToken;
use switchboard_service::{Service, ServiceConfig};
use switchboard_storage::{RetryPolicy, Store, StoreOptions};
use tokio::sync::{Notify, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::compose::Composer;
use crate::config::ServerConfig;
use crate::dispatcher::Dispatcher;
use crate::error::ApiError;
use crate::ingest::IngestHandle;
use crate::registry::{ChannelRegistry, LiveChannel, PlatformClient};
use crate::webhooks::{self, webhook_path};
use crate::{api, auth, polling};

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub registry: ChannelRegistry,
    pub ingest: IngestHandle,
    pub config: Arc<ServerConfig>,
    /// Every operation people and integrations perform goes through this.
    pub service: Service,
    /// Wakes the dispatcher when something was queued.
    pub wake: Arc<Notify>,
    /// Who this process is in `poll_leases`: the node id and a per-process boot id, so a
    /// restarted node (same node id) does not think it still holds its predecessor's leases.
    pub poll_holder: Arc<str>,
    pollers: Arc<Mutex<HashMap<ChannelId, JoinHandle<()>>>>,
    /// Turns true when the server stops: endless responses (event streams) end so the graceful
    /// shutdown does not wait for them forever.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    /// The one path to queue a message (send API, automations, campaigns).
    pub fn composer(&self) -> Composer {
        self.service.composer()
    }

    /// Brings a newly connected channel to life: Telegram bots get their webhook registered
    /// (when this server knows its public URL) or a poller.
    pub async fn channel_added(&self, channel: &Arc<LiveChannel>) {
        let (ChannelSettings::Telegram(settings), PlatformClient::Telegram(client)) =
            (&channel.record.settings, &channel.client)
        else {
            return;
        };
        match settings.receive {
            TelegramReceiveMode::Polling => {
                let handle = polling::start(self.clone(), channel.clone());
                if let Some(old) = self
                    .pollers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(channel.record.id, handle)
                {
                    old.abort();
                }
            }
            TelegramReceiveMode::Webhook => {
                if let Some(public) = &self.config.public_url {
                    let url = format!(
                        "{}{}",
                        public.trim_end_matches('/'),
                        webhook_path(channel.record.kind, channel.record.id)
                    );
                    if let Err(e) = client.set_webhook(&url, Some(&settings.secret_token)).await {
                        tracing::warn!(channel = %channel.record.id, error = %e, "setWebhook failed; register it by hand");
                    }
                }
            }
        }
    }
}

/// A path id that is not a number is simply a resource that does not exist.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(id) = Path::<i64>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        Ok(Id(id))
    }
}

/// Every route. Only [`public_routes`] are reachable without credentials; everything else is
/// behind [`auth::authenticate`], so a new route is private unless someone decides otherwise.
pub fn router(state: AppState) -> Router {
    let private = private_routes().route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authenticate,
    ));
    Router::new()
        .merge(public_routes())
        .merge(private)
        .fallback(|| async { ApiError::NotFound })
        .with_state(state)
}

/// Routes that answer without credentials: each checks its own proof (a platform signature, a
/// content hash) or has nothing to protect.
fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route(
            "/webhooks/messenger/{id}",
            get(webhooks::messenger::verify).post(webhooks::messenger::receive),
        )
        .route("/webhooks/telegram/{id}", post(webhooks::telegram::receive))
        .route("/public/media/{id}/{sha256}", get(api::media::public))
        .route("/api/v1/auth/login", post(api::people::login))
}

fn private_routes() -> Router<AppState> {
    use api::people;
    Router::new()
        .route("/api/v1/auth/logout", post(people::logout))
        .route("/api/v1/me", get(people::me).patch(people::update_me))
        .route(
            "/api/v1/me/tokens",
            get(people::list_tokens).post(people::create_token),
        )
        .route("/api/v1/me/tokens/{id}", delete(people::revoke_token))
        .route(
            "/api/v1/users",
            get(people::list_users).post(people::create_user),
        )
        .route("/api/v1/users/{id}", patch(people::update_user))
        .route(
            "/api/v1/teams",
            get(people::list_teams).post(people::create_team),
        )
        .route("/api/v1/audit", get(people::audit))
        .route(
            "/api/v1/channels",
            get(api::channels::list).post(api::channels::create),
        )
        .route(
            "/api/v1/channels/{id}/attribute-keys",
            put(api::channels::set_attribute_keys),
        )
        .route(
            "/api/v1/channels/{id}/automations",
            get(api::automations::get_all).put(api::automations::put_all),
        )
        .route(
            "/api/v1/channels/{id}/flows",
            get(api::automations::get_flows).put(api::automations::put_flows),
        )
        .route(
            "/api/v1/channels/{id}/rules",
            get(api::automations::get_rules).put(api::automations::put_rules),
        )
        .route(
            "/api/v1/channels/{id}/faq",
            get(api::automations::get_faq).put(api::automations::put_faq),
        )
        .route(
            "/api/v1/conversations/{id}/status",
            put(api::inbox::set_status),
        )
        .route("/api/v1/contacts", get(api::inbox::contacts))
        .route(
            "/api/v1/contacts/{id}",
            get(api::inbox::contact).delete(api::inbox::erase_contact),
        )
        .route(
            "/api/v1/contacts/{id}/export",
            get(api::inbox::export_contact),
        )
        .route(
            "/api/v1/contacts/{id}/subscription",
            put(api::inbox::set_subscription),
        )
        .route(
            "/api/v1/contacts/{id}/attributes",
            patch(api::inbox::patch_attributes),
        )
        .route("/api/v1/conversations", get(api::inbox::conversations))
        .route(
            "/api/v1/conversations/{id}/assign",
            post(api::inbox::assign),
        )
        .route("/api/v1/conversations/{id}/tags", put(api::inbox::set_tags))
        .route(
            "/api/v1/conversations/{id}/notes",
            get(api::inbox::notes).post(api::inbox::add_note),
        )
        .route(
            "/api/v1/conversations/{id}/snooze",
            post(api::inbox::snooze),
        )
        .route("/api/v1/conversations/{id}/read", post(api::inbox::read))
        .route(
            "/api/v1/conversations/{id}/typing",
            post(api::inbox::typing),
        )
        .route(
            "/api/v1/conversations/{id}/messages",
            get(api::inbox::messages).post(api::send::send),
        )
        .route(
            "/api/v1/conversations/{id}/scheduled-messages",
            get(api::send::scheduled_in),
        )
        .route(
            "/api/v1/scheduled-messages/{id}",
            get(api::send::scheduled).delete(api::send::cancel_scheduled),
        )
        .route(
            "/api/v1/reports/responsiveness",
            get(api::inbox::responsiveness),
        )
        .route("/api/v1/events", get(api::events::stream))
        .route("/api/v1/search", get(api::inbox::search))
        .route("/api/v1/lint", post(api::send::lint_endpoint))
        .route("/api/v1/media", post(api::media::upload))
        .route("/api/v1/media/{id}", get(api::media::info))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(2), state.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ok"),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

pub struct Server;

/// A running server.
pub struct ServerHandle {
    pub addr: SocketAddr,
    pub store: Store,
    pub node_id: String,
    poll_holder: Arc<str>,
    shutdown: Option<oneshot::Sender<()>>,
    closing: tokio::sync::watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
    background: JoinSet<()>,
    pollers: Arc<Mutex<HashMap<ChannelId, JoinHandle<()>>>>,
}

impl ServerHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, lets in-flight ones finish, stops background work.
    pub async fn shutdown(mut self) {
        let _ = self.closing.send(true);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.serve).await;
        self.stop_background().await;
    }

    async fn stop_background(&mut self) {
        self.background.shutdown().await;
        for (_, p) in self
            .pollers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            p.abort();
        }
        if let Err(e) = self.store.release_poll_leases(&self.poll_holder).await {
            tracing::warn!(error = %e, "poll leases not released; they expire on their own");
        }
        self.store.close().await;
    }
}

impl Server {
    /// Opens the database (migrating it), binds, and starts serving and dispatching.
    pub async fn start(config: ServerConfig) -> anyhow::Result<ServerHandle> {
        let store = Store::open(StoreOptions::new(config.database_url.clone())).await?;
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        let node_id = config
            .node_id
            .clone()
            .unwrap_or_else(|| format!("{}@{addr}", hostname()));
        let process_id = crate::dispatcher::process_identity(&node_id);
        let poll_holder: Arc<str> = process_id.clone().into();
        let http = switchboard_channels::http_client_with_timeout(config.platform_timeout);
        let registry = ChannelRegistry::new(
            store.clone(),
            http,
            &config.graph_api_url,
            &config.telegram_api_url,
        );
        let wake = Arc::new(Notify::new());
        let shards = config.ingest_shards.unwrap_or(match store.backend() {
            switchboard_storage::Backend::Sqlite => 1,
            switchboard_storage::Backend::Postgres => 4,
        });
        let ingest =
            IngestHandle::start(store.clone(), shards, config.ingest_timeout, wake.clone());
        let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
        let state = AppState {
            store: store.clone(),
            registry: registry.clone(),
            ingest,
            wake: wake.clone(),
            service: Service::new(
                store.clone(),
                registry.clone(),
                Arc::new(switchboard_lint::Linter::new(
                    switchboard_lint::LintConfig {
                        dictionary_dir: config.dictionary_dir.clone().unwrap_or_else(|| {
                            switchboard_lint::LintConfig::default().dictionary_dir
                        }),
                        ..Default::default()
                    },
                )),
                wake.clone(),
                ServiceConfig {
                    public_url: config.public_url.clone(),
                    admin_token: config.admin_token.as_deref().map(AdminToken::new),
                    ..ServiceConfig::default()
                },
            ),
            config: Arc::new(config.clone()),
            poll_holder: poll_holder.clone(),
            pollers: Arc::default(),
            closing: closing_rx,
        };
        let dispatcher = Dispatcher {
            store: store.clone(),
            registry: registry.clone(),
            node_id: node_id.clone().into(),
            process_id: process_id.clone().into(),
            lease: config.outbox_lease,
            retry: RetryPolicy::default(),
            wake,
            pacer: Arc::default(),
            public_url: config.public_url.as_deref().map(Arc::from),
        };
        let mut background = dispatcher.start(config.reply_workers).await;
        // PostgreSQL takes several writers at once; the claim only ever hands out the first
        // open event of each person, locked, so workers never split a person's events.
        let automation_workers = config.automation_workers.unwrap_or(match store.backend() {
            switchboard_storage::Backend::Sqlite => 1,
            switchboard_storage::Backend::Postgres => 4,
        });
        let automation = crate::automation::AutomationWorker {
            store: store.clone(),
            registry: registry.clone(),
            composer: state.composer(),
            process_id: process_id.clone().into(),
            wake: state.wake.clone(),
            http: switchboard_channels::http_client(),
        };
        for _ in 0..automation_workers.max(1) {
            background.spawn(automation.clone().run());
        }
        background.spawn(send_later(state.service.clone()));
        background.spawn(index_for_search(state.service.clone()));
        background.spawn(
            crate::profiles::ProfileFetcher {
                store: store.clone(),
                registry: registry.clone(),
                wake: state.wake.clone(),
            }
            .run(),
        );
        for record in store.list_channels().await? {
            if matches!(&record.settings, ChannelSettings::Telegram(t) if t.receive == TelegramReceiveMode::Polling)
            {
                let live = registry.reload(record.id).await?;
                state.channel_added(&live).await;
            }
        }
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let app = router(state.clone());
        let serve = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = shutdown_rx.await;
            })
            .await
        });
        tracing::info!(%addr, node = %node_id, process = %process_id, backend = store.backend().as_str(), "switchboard listening");
        Ok(ServerHandle {
            addr,
            store,
            node_id,
            poll_holder,
            shutdown: Some(shutdown_tx),
            closing: closing_tx,
            serve,
            background,
            pollers: state.pollers,
        })
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into())
}

/// Sends agent messages whose time has come (every node runs one; claims keep them apart).
async fn send_later(service: Service) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = service.send_due_scheduled().await {
            tracing::warn!(error = %e, "scheduled messages not sent this round");
        }
    }
}

/// Keeps the search index a moment behind what is stored (ingest itself writes no index).
async fn index_for_search(service: Service) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match service.index_for_search().await {
                // A full batch: more is waiting.
                Ok(n) if n >= 500 => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "search indexing deferred");
                    break;
                }
            }
        }
    }
}

/// The service layer for command-line work on the database (`switchboard user create`): the
/// same operations and checks as the server's, with no admin token and no platform calls.
pub fn offline_service(store: Store) -> Service {
    let registry = ChannelRegistry::new(
        store.clone(),
        switchboard_channels::http_client(),
        "https://graph.facebook.com/v23.0",
        "https://api.telegram.org",
    );
    Service::new(
        store,
        registry,
        Arc::new(switchboard_lint::Linter::new(
            switchboard_lint::LintConfig::default(),
        )),
        Arc::new(Notify::new()),
        ServiceConfig::default(),
    )
}
