//! Real `switchboard serve` processes for the process-level tests: start one on a database,
//! wait until it serves, kill it.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// The admin token every process started here accepts.
pub const ADMIN_TOKEN: &str = "process-test-admin";

pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// A `switchboard serve` child process and its base URL; killed when dropped.
pub struct Node {
    pub child: Child,
    pub listen: SocketAddr,
    pub base: String,
}

/// Starts `switchboard serve` on `db_url` with `graph` as the Graph API, under `node` as its
/// node id, logging at `log`.
pub fn serve(db_url: &str, graph: &str, node: &str, log: &str) -> Node {
    serve_at(free_port(), db_url, graph, node, log)
}

/// `serve` on a given address: a restarted node comes back where its webhooks point.
pub fn serve_at(listen: SocketAddr, db_url: &str, graph: &str, node: &str, log: &str) -> Node {
    let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("serve")
        .env("SWITCHBOARD_DATABASE_URL", db_url)
        .env("SWITCHBOARD_LISTEN", listen.to_string())
        .env("SWITCHBOARD_GRAPH_API_URL", graph)
        .env("SWITCHBOARD_NODE_ID", node)
        .env("SWITCHBOARD_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("SWITCHBOARD_LOG", log)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn switchboard");
    Node {
        child,
        listen,
        base: format!("http://{listen}"),
    }
}

impl Node {
    /// Healthy means started: the dispatcher's restart recovery ran before the listener served.
    pub async fn wait_healthy(&self, http: &reqwest::Client) {
        for _ in 0..400 {
            if let Ok(r) = http.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("server at {} did not become healthy", self.base);
    }

    pub async fn sigkill(mut self) {
        self.child.start_kill().expect("SIGKILL");
        self.child.wait().await.expect("reaped");
    }
}

/// A Messenger page in the store and at the emulator, with the credentials `token-<page>` and
/// `secret-<page>`.
pub async fn messenger_page(
    store: &switchboard_storage::Store,
    emulator: &switchboard_emulator::EmulatorHandle,
    page: &str,
    rate_limits: Option<switchboard_domain::RateLimits>,
    default_reply: Option<&str>,
) -> switchboard_domain::ChannelId {
    use switchboard_domain::{ChannelSettings, MessengerSettings};
    let channel = store
        .create_channel(switchboard_storage::NewChannel {
            name: format!("page {page}"),
            external_id: page.into(),
            settings: ChannelSettings::Messenger(MessengerSettings {
                page_id: page.into(),
                page_access_token: format!("token-{page}"),
                app_secret: format!("secret-{page}"),
                verify_token: "v".into(),
                rate_limits,
                human_agent_permission: false,
                utility_messaging_permission: false,
            }),
            default_reply: default_reply.map(str::to_owned),
        })
        .await
        .expect("channel");
    emulator.add_page(switchboard_emulator::PageSpec::new(
        page,
        format!("token-{page}"),
        format!("secret-{page}"),
    ));
    channel.id
}

/// A campaign's audience on one page: each person known to the emulator and having written
/// (their window open), then one bulk message `text` queued for each, as a campaign queues them.
pub async fn queue_campaign(
    store: &switchboard_storage::Store,
    emulator: &switchboard_emulator::EmulatorHandle,
    channel: switchboard_domain::ChannelId,
    page: &str,
    psids: &[String],
    text: &str,
) {
    use switchboard_domain::{AuthorKind, Content, Millis};
    use switchboard_storage::testing::fixtures::text_from;
    use switchboard_storage::{IngestItem, Lane, OutgoingDraft, OutgoingItem};
    let people: Vec<IngestItem> = psids
        .iter()
        .map(|psid| {
            emulator.messenger_register_user(page, psid);
            IngestItem {
                channel_id: channel,
                envelope: text_from(psid, &format!("seed-{page}-{psid}"), "hi", Millis::now().0),
                replies: vec![],
            }
        })
        .collect();
    for chunk in people.chunks(1_000) {
        store.ingest(chunk).await.expect("ingest");
    }
    let draft = OutgoingDraft {
        content: Content {
            text: Some(text.into()),
            ..Content::default()
        },
        author: AuthorKind::Campaign,
        lane: Lane::Bulk,
        messaging_type: Some("UPDATE".into()),
    };
    let items: Vec<OutgoingItem> = store
        .list_conversations(channel)
        .await
        .expect("conversations")
        .into_iter()
        .map(|conversation| OutgoingItem {
            conversation_id: conversation.id,
            draft: draft.clone(),
        })
        .collect();
    assert_eq!(items.len(), psids.len(), "one conversation per person");
    for chunk in items.chunks(2_000) {
        store.enqueue(chunk).await.expect("enqueue");
    }
}

/// Outbound message rows by status.
pub async fn outbound_statuses(db: &sqlx::AnyPool) -> std::collections::BTreeMap<String, i64> {
    use sqlx::Row;
    sqlx::query(
        "SELECT status, COUNT(*) AS n FROM messages WHERE direction = 'out' GROUP BY status",
    )
    .fetch_all(db)
    .await
    .expect("count statuses")
    .iter()
    .map(|r| (r.get::<String, _>("status"), r.get::<i64, _>("n")))
    .collect()
}
