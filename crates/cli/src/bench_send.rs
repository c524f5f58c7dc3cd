//! `switchboard bench-send`: how fast and how evenly the outbox dispatcher sends.
//!
//! Queues M bulk messages spread over C Messenger channels (each with K customers) and measures,
//! at the emulator, per channel: the achieved rate and the busiest calendar second against the
//! channel's limit; overall: messages per second across all channels.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use clap::Args;
use switchboard_domain::{
    AuthorKind, ChannelSettings, ContactRef, Content, InboundEnvelope, InboundEvent,
    MessengerSettings, Millis, Psid, RateLimits,
};
use switchboard_emulator::{Emulator, EmulatorConfig, PageSpec, Platform};
use switchboard_server::{Server, ServerConfig};
use switchboard_storage::testing::TestDatabase;
use switchboard_storage::{IngestItem, Lane, NewChannel, OutgoingDraft, OutgoingItem};

#[derive(Args)]
pub struct BenchSendArgs {
    /// Messenger channels (pages) to send on.
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// Customers per channel.
    #[arg(long, default_value_t = 20)]
    contacts: usize,
    /// Messages to queue in total.
    #[arg(long, default_value_t = 1_000)]
    messages: usize,
    /// Per-channel limit in messages/s (default: the platform's, 300/s for Messenger).
    #[arg(long)]
    rate: Option<f64>,
}

pub async fn run(args: BenchSendArgs) -> anyhow::Result<()> {
    let db = TestDatabase::sqlite();
    let emulator = Emulator::start(EmulatorConfig::default()).await?;
    let mut config = ServerConfig::new(db.url.clone(), SocketAddr::from(([127, 0, 0, 1], 0)));
    config.graph_api_url = emulator.graph_api_url();
    let server = Server::start(config).await?;
    let store = &server.store;
    let limits = match args.rate {
        Some(r) => Some(
            RateLimits::parse(r, None).ok_or_else(|| anyhow::anyhow!("--rate must be positive"))?,
        ),
        None => None,
    };

    let mut conversations = Vec::new();
    for c in 0..args.channels {
        let page = format!("{}", 1_000_000_000 + c);
        let channel = store
            .create_channel(NewChannel {
                name: format!("page {c}"),
                external_id: page.clone(),
                settings: ChannelSettings::Messenger(MessengerSettings {
                    page_id: page.clone(),
                    page_access_token: format!("token-{c}"),
                    app_secret: "s".into(),
                    verify_token: "v".into(),
                    rate_limits: limits,
                    human_agent_permission: false,
                    utility_messaging_permission: false,
                }),
                default_reply: None,
            })
            .await?;
        emulator.add_page(PageSpec::new(&page, format!("token-{c}"), "s"));
        let mut items = Vec::new();
        for k in 0..args.contacts.max(1) {
            let psid = format!("{}", 8_000_000_000_000_000u64 + (c * 10_000 + k) as u64);
            emulator.messenger_register_user(&page, &psid);
            items.push(IngestItem {
                channel_id: channel.id,
                envelope: InboundEnvelope {
                    dedupe_key: format!("mid:seed-{c}-{k}"),
                    contact: Some(ContactRef::id_only(Psid::parse(&psid)?.into())),
                    occurred_at: Millis::now(),
                    standby: false,
                    event: InboundEvent::Message {
                        platform_message_id: format!("seed-{c}-{k}"),
                        content: Content {
                            text: Some("hi".into()),
                            ..Content::default()
                        },
                        referral: None,
                    },
                },
                replies: vec![],
            });
        }
        store.ingest(&items).await?;
        conversations.extend(
            store
                .list_conversations(channel.id)
                .await?
                .into_iter()
                .map(|v| v.id),
        );
    }

    let draft = OutgoingDraft {
        content: Content {
            text: Some("Our spring collection is here.".into()),
            ..Content::default()
        },
        author: AuthorKind::Campaign,
        lane: Lane::Bulk,
        messaging_type: Some("UPDATE".into()),
    };
    // Round-robin over every conversation, so every channel has work all the time.
    let queue: Vec<OutgoingItem> = (0..args.messages)
        .map(|i| OutgoingItem {
            conversation_id: conversations[i % conversations.len()],
            draft: draft.clone(),
        })
        .collect();
    println!(
        "bench-send: {} messages over {} channels × {} contacts, limit {} msg/s per channel",
        args.messages,
        args.channels,
        args.contacts,
        limits.map_or("300 (platform default)".to_string(), |l| l
            .per_second
            .to_string())
    );
    for chunk in queue.chunks(2_000) {
        store.enqueue(chunk).await?;
    }
    let sent = emulator
        .wait_for_calls(
            Platform::Messenger,
            "messages",
            args.messages,
            Duration::from_secs(600),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let total = emulator.count_calls(Platform::Messenger, "messages", true);

    let mut per_channel: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for call in &sent {
        per_channel
            .entry(call.credential.clone())
            .or_default()
            .push(call.at_ms);
    }
    let (first, last) = (
        sent.iter().map(|c| c.at_ms).min().unwrap_or(0),
        sent.iter().map(|c| c.at_ms).max().unwrap_or(0),
    );
    let span = ((last - first) as f64 / 1000.0).max(0.001);
    println!(
        "sent {} in {:.2} s: {:.0} msg/s across all channels",
        sent.len(),
        span,
        sent.len() as f64 / span
    );
    let limit = limits.map_or(300.0, |l| l.per_second);
    let mut worst_rate = f64::MAX;
    let mut busiest = 0usize;
    for times in per_channel.values() {
        let (a, b) = (
            times.iter().min().copied().unwrap_or(0),
            times.iter().max().copied().unwrap_or(0),
        );
        if times.len() > 1 && b > a {
            worst_rate = worst_rate.min((times.len() - 1) as f64 / ((b - a) as f64 / 1000.0));
        }
        let mut seconds: BTreeMap<i64, usize> = BTreeMap::new();
        for t in times {
            *seconds.entry(t / 1000).or_default() += 1;
        }
        busiest = busiest.max(seconds.values().copied().max().unwrap_or(0));
    }
    println!(
        "per channel: slowest achieved {:.1} msg/s = {:.3} of the limit; busiest calendar second {} (limit {})",
        worst_rate,
        worst_rate / limit,
        busiest,
        limit
    );
    server.shutdown().await;
    emulator.shutdown();
    if total != args.messages {
        bail!(
            "expected {} sends, the emulator saw {}",
            args.messages,
            total
        );
    }
    Ok(())
}
