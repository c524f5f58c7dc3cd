use std::net::SocketAddr;
use std::time::Duration;

/// Everything the server needs to run. The CLI fills it from flags and environment variables.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub database_url: String,
    pub listen: SocketAddr,
    /// Graph API base including the version, e.g. `https://graph.facebook.com/v23.0`.
    pub graph_api_url: String,
    /// Bot API base, e.g. `https://api.telegram.org`.
    pub telegram_api_url: String,
    /// Bearer token with full API rights; when unset the API refuses every call.
    pub admin_token: Option<String>,
    /// Public base URL of this server (for `setWebhook`); Telegram webhooks are registered
    /// automatically when it is set.
    pub public_url: Option<String>,
    /// This node's name. Each process adds a boot id to it; a restarted node of the same name
    /// reclaims the in-flight rows of its previous life (a process of that name that no longer
    /// heartbeats) at once instead of waiting for their leases. Two live processes given the
    /// same name by mistake leave each other's rows alone.
    pub node_id: Option<String>,
    /// Largest webhook or API body accepted (Messenger batches are small; 1 MiB is generous).
    pub body_limit: usize,
    /// How long a claimed outbox row stays leased to this node.
    pub outbox_lease: Duration,
    /// Concurrent outbox workers for conversational replies.
    pub reply_workers: usize,
    /// Parallel ingest writers. SQLite has one writer, so more than one only helps PostgreSQL.
    pub ingest_shards: Option<usize>,
    /// Automation workers deciding answers (default: 1 on SQLite, 4 on PostgreSQL).
    pub automation_workers: Option<usize>,
    /// Where Hunspell dictionaries are read from (English is built in).
    pub dictionary_dir: Option<std::path::PathBuf>,
    /// How long a platform API call may take before its answer is given up on.
    pub platform_timeout: Duration,
    /// Longest wait of a webhook for its batch's commit before answering 503.
    pub ingest_timeout: Duration,
}

impl ServerConfig {
    pub fn new(database_url: impl Into<String>, listen: SocketAddr) -> Self {
        ServerConfig {
            database_url: database_url.into(),
            listen,
            graph_api_url: "https://graph.facebook.com/v23.0".into(),
            telegram_api_url: "https://api.telegram.org".into(),
            admin_token: None,
            public_url: None,
            node_id: None,
            body_limit: 1024 * 1024,
            outbox_lease: Duration::from_secs(30),
            reply_workers: 2,
            ingest_shards: None,
            automation_workers: None,
            ingest_timeout: Duration::from_secs(4),
            platform_timeout: switchboard_channels::DEFAULT_REQUEST_TIMEOUT,
            dictionary_dir: None,
        }
    }
}
