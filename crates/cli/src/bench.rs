//! `switchboard bench`: drive N signed Messenger webhooks at a real server whose Graph API is the
//! emulator, and report how many events per second were stored-and-acknowledged and
//! stored-and-replied, with acknowledgement latency percentiles.
//!
//! Everything runs in this one process on this machine (server, emulator, load generator), so the
//! figures are conservative: the load generator and the emulator take CPU from the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use hmac::{KeyInit, Mac};
use serde_json::json;
use switchboard_domain::{ChannelSettings, MessengerSettings};
use switchboard_emulator::{Emulator, EmulatorConfig, PageSpec, Platform};
use switchboard_server::{Server, ServerConfig};
use switchboard_storage::NewChannel;
use switchboard_storage::testing::TestDatabase;

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Sqlite,
    Postgres,
}

#[derive(Args)]
pub struct BenchArgs {
    /// How many webhook deliveries (one message event each) to send.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Webhook requests in flight at once.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Distinct customers the messages come from.
    #[arg(long, default_value_t = 2_000)]
    contacts: usize,
    /// Messenger pages the traffic is spread over. Each page's replies are paced at Meta's
    /// 300/s, so one page alone would measure the platform's limit, not the server.
    #[arg(long, default_value_t = 40)]
    pages: usize,
    /// Storage backend. PostgreSQL uses a fresh database on the server named by
    /// SWITCHBOARD_TEST_POSTGRES_URL, dropped afterwards.
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: BackendArg,
    /// Servers sharing the database (PostgreSQL), each receiving the webhooks of every n-th page.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Drive a peer instead: a Bottender app in this directory (with `node_modules` installed),
    /// started with `bottender start`, its Graph API pointed at the same emulator. Same load,
    /// same fake Send API, same count of replies; the peer stores nothing, so only acks and
    /// replies are compared. See `scripts/peer-bench.sh`.
    #[arg(long)]
    peer_dir: Option<std::path::PathBuf>,
}

const SECRET: &str = "bench-app-secret";
const TOKEN: &str = "bench-page-token";

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let db = match args.backend {
        BackendArg::Sqlite => TestDatabase::sqlite(),
        BackendArg::Postgres => TestDatabase::postgres()
            .await
            .context("set SWITCHBOARD_TEST_POSTGRES_URL")?,
    };
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let mut config = ServerConfig::new(db.url.clone(), SocketAddr::from(([127, 0, 0, 1], 0)));
    config.graph_api_url = emulator.graph_api_url();
    let mut servers = Vec::new();
    for _ in 0..args.nodes.max(1) {
        servers.push(Server::start(config.clone()).await?);
    }
    let server = &servers[0];
    let peer = match &args.peer_dir {
        Some(dir) => Some(Peer::start(dir, &emulator.base_url()).await?),
        None => None,
    };
    let pages: Vec<String> = (0..args.pages.max(1))
        .map(|p| format!("{}", 1_000_000_001 + p))
        .collect();
    let mut urls = Vec::with_capacity(pages.len());
    let mut channel_ids = Vec::with_capacity(pages.len());
    for page in &pages {
        let channel = server
            .store
            .create_channel(NewChannel {
                name: format!("bench {page}"),
                external_id: page.clone(),
                settings: ChannelSettings::Messenger(MessengerSettings {
                    page_id: page.clone(),
                    page_access_token: format!("{TOKEN}-{page}"),
                    app_secret: SECRET.into(),
                    verify_token: "v".into(),
                    rate_limits: None,
                    human_agent_permission: false,
                    utility_messaging_permission: false,
                }),
                default_reply: Some("Thanks! We will answer soon.".into()),
            })
            .await?;
        // Every message is answered: the bench measures throughput, not the bot stepping back
        // for a human after three messages it does not understand.
        let automations = switchboard_automation::config::ChannelAutomations {
            default_reply: switchboard_automation::config::AutoMessage::on(
                switchboard_automation::localized::Localized::new(
                    switchboard_domain::OutgoingMessage::text("Thanks! We will answer soon."),
                ),
            ),
            handover: switchboard_automation::config::HandoverSettings {
                max_unrecognised: u32::MAX,
                ..Default::default()
            },
            ..Default::default()
        };
        server
            .store
            .put_automations(
                channel.id,
                &serde_json::to_string(&automations)?,
                "bench-webhook-secret",
            )
            .await?;
        let node = &servers[channel_ids.len() % servers.len()];
        let url = match &peer {
            Some(peer) => peer.webhook_url.clone(),
            None => format!("{}/webhooks/messenger/{}", node.base_url(), channel.id),
        };
        emulator
            .add_page(PageSpec::new(page, format!("{TOKEN}-{page}"), SECRET).with_webhook(&url));
        urls.push(url);
        channel_ids.push(channel.id);
    }
    let psids: Vec<String> = (0..args.contacts.max(1))
        .map(|i| format!("{}", 7_000_000_000_000_000u64 + i as u64))
        .collect();
    // Customer i writes to page i % pages.
    for (i, psid) in psids.iter().enumerate() {
        emulator.messenger_register_user(&pages[i % pages.len()], psid);
    }

    println!(
        "bench: {} events, {} in flight, {} contacts over {} pages, backend {}, {} node(s)",
        args.events,
        args.concurrency,
        psids.len(),
        pages.len(),
        server.store.backend().as_str(),
        servers.len()
    );
    let requests: Arc<Vec<Delivery>> = Arc::new(
        (0..args.events)
            .map(|i| {
                let customer = i % psids.len();
                let page = customer % pages.len();
                let (body, signature, legacy) = signed(i, &psids[customer], &pages[page]);
                Delivery {
                    url: urls[page].clone(),
                    body,
                    signature,
                    legacy,
                }
            })
            .collect(),
    );

    let http = switchboard_channels::http_client();
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = machine_cpu_ms();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (http, requests, next) = (http.clone(), requests.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(Delivery {
                    url,
                    body,
                    signature,
                    legacy,
                }) = requests.get(i)
                else {
                    break;
                };
                let t = Instant::now();
                let ok = http
                    .post(url)
                    .header("content-type", "application/json")
                    .header("x-hub-signature-256", signature)
                    .header("x-hub-signature", legacy)
                    .body(body.clone())
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                latencies.push(t.elapsed());
                failures += usize::from(!ok);
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::with_capacity(args.events);
    let mut failures = 0;
    for w in workers {
        let (l, f) = w.await?;
        latencies.extend(l);
        failures += f;
    }
    let acked = started.elapsed();
    let replies = emulator
        .wait_for_calls(
            Platform::Messenger,
            "messages",
            args.events,
            Duration::from_secs(300),
        )
        .await
        .len();
    let replied = started.elapsed();
    let cpu = machine_cpu_ms()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    // Anything sent after this point would be a duplicate: give it a chance to show up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let replies_after = emulator.count_calls(Platform::Messenger, "messages", true);

    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let mut stored = 0;
    for id in &channel_ids {
        stored += server.store.count_events(*id).await?;
    }
    if peer.is_some() {
        // The peer keeps nothing: there is nothing to count but its acks and replies.
        stored = args.events as i64;
        println!(
            "peer: {}",
            args.peer_dir
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display()
        );
    }
    println!(
        "acknowledged (stored): {:>9.0} events/s  ({} in {:.2} s, {} non-2xx)",
        args.events as f64 / acked.as_secs_f64(),
        args.events,
        acked.as_secs_f64(),
        failures
    );
    println!(
        "stored and replied:    {:>9.0} events/s  ({} replies by {:.2} s)",
        replies as f64 / replied.as_secs_f64(),
        replies,
        replied.as_secs_f64()
    );
    println!(
        "ack latency:           p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(latencies.last().copied().unwrap_or_default())
    );
    if let Some(cpu) = cpu {
        println!(
            "machine CPU time:      {:>9.0} ms per 1,000 replies (every process: server, database, load, emulator)",
            cpu as f64 * 1000.0 / replies.max(1) as f64
        );
    }
    println!("events stored: {stored}, replies at the emulator: {replies_after}");
    for server in servers {
        server.shutdown().await;
    }
    emulator.shutdown();
    if stored != args.events as i64 || replies_after != args.events || failures > 0 {
        // Kept for inspection: which events are missing, which rows are not terminal.
        eprintln!("the database is kept for inspection: {}", db.url);
        std::mem::forget(db);
        bail!("not every event was stored and answered exactly once");
    }
    drop(db);
    Ok(())
}

/// One pre-built webhook request.
struct Delivery {
    url: String,
    body: Vec<u8>,
    signature: String,
    legacy: String,
}

/// A peer framework's server, killed when dropped.
struct Peer {
    _child: tokio::process::Child,
    webhook_url: String,
}

impl Peer {
    async fn start(dir: &std::path::Path, graph_origin: &str) -> anyhow::Result<Peer> {
        let dir = &dir
            .canonicalize()
            .with_context(|| format!("peer directory {}", dir.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = tokio::process::Command::new(dir.join("node_modules/.bin/bottender"))
            .args(["start", "--port", &port.to_string()])
            .current_dir(dir)
            .env("SB_GRAPH_ORIGIN", graph_origin)
            .env("NODE_ENV", "production")
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("start the peer (run scripts/peer-bench.sh, which installs it)")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if Instant::now() > deadline {
                bail!("the peer did not listen on port {port}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Peer {
            _child: child,
            webhook_url: format!("http://127.0.0.1:{port}/webhooks/messenger"),
        })
    }
}

/// CPU time spent by the whole machine so far (user, nice, system, irq, softirq), from
/// `/proc/stat`, in milliseconds; `None` where there is no such file.
fn machine_cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq: leave out idle and iowait. USER_HZ is 100.
    let busy = ticks.first()? + ticks.get(1)? + ticks.get(2)? + ticks.get(5)? + ticks.get(6)?;
    Some(busy * 10)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One webhook body and its `X-Hub-Signature-256` and legacy `X-Hub-Signature` (SHA-1) headers,
/// as Meta sends them (Bottender 1.5 checks only the SHA-1 one).
fn signed(i: usize, psid: &str, page: &str) -> (Vec<u8>, String, String) {
    let now = switchboard_domain::Millis::now().0;
    let body = serde_json::to_vec(
        &json!({"object": "page", "entry": [{"id": page, "time": now, "messaging": [{
        "sender": {"id": psid}, "recipient": {"id": page}, "timestamp": now,
        "message": {"mid": format!("m_bench_{i}"), "text": "Hello! Is this still available?"}}]}]}),
    )
    .unwrap_or_default();
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(&body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let mut legacy =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    legacy.update(&body);
    let legacy = format!("sha1={}", hex::encode(legacy.finalize().into_bytes()));
    (body, signature, legacy)
}
