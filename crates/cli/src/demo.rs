//! `switchboard demo`: the whole path — webhook, store, outbox, channel client, status — on a
//! throwaway SQLite database against the built-in emulator, with a scripted conversation.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use switchboard_emulator::{
    BotSpec, Emulator, EmulatorConfig, EmulatorHandle, PageSpec, Platform, Signing, TelegramUser,
};
use switchboard_server::{Server, ServerConfig};

#[derive(Args)]
pub struct DemoArgs {
    /// Where the demo server listens (falls back to a free port if taken).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Play the script, print the summary and exit instead of staying up.
    #[arg(long)]
    script_only: bool,
}

const PAGE_ID: &str = "104857600000001";
const PAGE_TOKEN: &str = "demo-page-access-token";
const APP_SECRET: &str = "demo-app-secret";
const BOT_TOKEN: &str = "7000000001:demo-bot-token";
const BOT_SECRET: &str = "demo-secret-header";
const ANN: &str = "24000000000000001";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("switchboard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("demo.db");
    let emulator = Emulator::start(EmulatorConfig {
        auto_receipts: true,
        ..Default::default()
    })
    .await?;
    let admin_token = format!("demo-{:016x}", fastrand_u64());

    let mut config = ServerConfig::new(format!("sqlite://{}", db.display()), args.listen);
    config.graph_api_url = emulator.graph_api_url();
    config.telegram_api_url = emulator.telegram_api_url();
    config.admin_token = Some(admin_token.clone());
    let server = match Server::start(config.clone()).await {
        Ok(s) => s,
        Err(_) => {
            config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
            Server::start(config)
                .await
                .context("starting the demo server")?
        }
    };
    let base = server.base_url();
    config_public_webhooks(&emulator, &base, &admin_token).await?;

    println!(
        "Switchboard demo — server {base}, emulator {}",
        emulator.base_url()
    );
    println!("database: {}\n", db.display());
    play_script(&emulator).await?;
    print_inbox(&base, &admin_token).await?;

    println!("\nWhere to look:");
    println!("  export TOKEN={admin_token}");
    println!("  curl -s -H \"Authorization: Bearer $TOKEN\" {base}/api/v1/channels");
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" '{base}/api/v1/conversations?channel_id=1'"
    );
    println!(
        "  curl -s -H \"Authorization: Bearer $TOKEN\" {base}/api/v1/conversations/1/messages"
    );
    println!(
        "  be a customer:  curl -s -XPOST {}/_emulator/messenger/pages/{PAGE_ID}/users/{ANN}/text -H 'content-type: application/json' -d '{{\"text\":\"hello again\"}}'",
        emulator.base_url()
    );
    println!(
        "  what the platforms saw:  curl -s {}/_emulator/calls",
        emulator.base_url()
    );
    if args.script_only {
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }
    println!("\nRunning. Ctrl-C to stop.");
    crate::stop_signal().await;
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn fastrand_u64() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
}

/// Connects a page and a bot through the real API, and points the emulator's webhooks at them.
async fn config_public_webhooks(
    emulator: &EmulatorHandle,
    base: &str,
    token: &str,
) -> anyhow::Result<()> {
    let http = switchboard_channels::http_client();
    let create = |body: Value| {
        let http = http.clone();
        async move {
            let res = http
                .post(format!("{base}/api/v1/channels"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            if res.status().as_u16() != 201 {
                bail!(
                    "creating a channel answered {}: {}",
                    res.status(),
                    res.text().await.unwrap_or_default()
                );
            }
            Ok::<Value, anyhow::Error>(res.json().await?)
        }
    };
    let page = create(json!({
        "kind": "messenger", "name": "Toko Batik (Messenger)", "page_id": PAGE_ID,
        "page_access_token": PAGE_TOKEN, "app_secret": APP_SECRET, "verify_token": "demo-verify",
        "default_reply": "Thanks for writing to Toko Batik! A person from our team will answer within the hour."
    }))
    .await?;
    let bot = create(json!({
        "kind": "telegram", "name": "Toko Batik (Telegram)", "bot_token": BOT_TOKEN, "secret_token": BOT_SECRET,
        "default_reply": "Grazie! / Thanks! We got your message and will answer soon."
    }))
    .await?;
    let path = |v: &Value| v["webhook_path"].as_str().unwrap_or_default().to_owned();
    emulator.add_page(
        PageSpec::new(PAGE_ID, PAGE_TOKEN, APP_SECRET)
            .with_webhook(format!("{base}{}", path(&page)))
            .with_verify_token("demo-verify"),
    );
    let handshake = emulator.messenger_verify_webhook(PAGE_ID).await;
    println!(
        "Messenger webhook verification handshake: HTTP {}",
        handshake.status
    );
    emulator.add_bot(BotSpec::new(BOT_TOKEN, "toko_batik_bot"));
    emulator.set_bot_webhook(
        BOT_TOKEN,
        &format!("{base}{}", path(&bot)),
        Some(BOT_SECRET),
    );
    Ok(())
}

async fn play_script(emulator: &EmulatorHandle) -> anyhow::Result<()> {
    let step = |who: &str, what: &str, status: u16| {
        println!("  {who:<22} {what:<52} → webhook answered {status}")
    };
    println!("Scripted conversation:");
    let r = emulator
        .messenger_user_event(
            PAGE_ID,
            ANN,
            json!({"postback": {"title": "Get Started", "payload": "GET_STARTED",
                    "referral": {"ref": "summer_qr", "source": "SHORTLINK", "type": "OPEN_THREAD"}}}),
        )
        .await;
    step(
        "Ann (Messenger)",
        "taps Get Started from an m.me link (ref=summer_qr)",
        r.status,
    );
    let r = emulator
        .messenger_user_sends_text(PAGE_ID, ANN, "Hi! Do you ship to Jakarta?")
        .await;
    step(
        "Ann (Messenger)",
        "\"Hi! Do you ship to Jakarta?\"",
        r.status,
    );
    let replies = emulator
        .wait_for_calls(Platform::Messenger, "messages", 1, Duration::from_secs(10))
        .await;
    println!(
        "  {:<22} default reply sent through the Send API ({} call)",
        "Switchboard",
        replies.len()
    );

    // Meta retries deliveries it is not sure about: the same bytes again must change nothing.
    let retry = json!({"object": "page", "entry": [{"id": PAGE_ID, "time": 1, "messaging": [{
        "sender": {"id": ANN}, "recipient": {"id": PAGE_ID}, "timestamp": 1,
        "message": {"mid": "m_demo_retry", "text": "Is the blue batik in stock?"}}]}]});
    let body = serde_json::to_vec(&retry)?;
    let first = emulator
        .messenger_deliver_raw(PAGE_ID, body.clone(), Signing::Valid)
        .await;
    let again = emulator
        .messenger_deliver_raw(PAGE_ID, body, Signing::Valid)
        .await;
    step(
        "Ann (Messenger)",
        "\"Is the blue batik in stock?\" delivered twice",
        again.status.max(first.status),
    );
    let forged = emulator
        .messenger_deliver_raw(
            PAGE_ID,
            br#"{"object":"page","entry":[]}"#.to_vec(),
            Signing::Invalid,
        )
        .await;
    step(
        "someone else",
        "a webhook with a forged signature",
        forged.status,
    );

    let budi = TelegramUser::new(5_551_234, "Budi").with_language("id");
    let r = emulator
        .telegram_user_sends_text(BOT_TOKEN, budi.clone(), "/start promo1")
        .await;
    step(
        "Budi (Telegram)",
        "opens t.me/toko_batik_bot?start=promo1",
        r.status,
    );
    let r = emulator
        .telegram_user_sends_text(BOT_TOKEN, budi, "Halo, ada ukuran M?")
        .await;
    step("Budi (Telegram)", "\"Halo, ada ukuran M?\"", r.status);
    let sent = emulator
        .wait_for_calls(
            Platform::Telegram,
            "sendMessage",
            2,
            Duration::from_secs(10),
        )
        .await;
    let sent_fb = emulator
        .wait_for_calls(Platform::Messenger, "messages", 2, Duration::from_secs(10))
        .await;
    println!(
        "  {:<22} {} Messenger replies and {} Telegram replies sent — one per customer message, none for the retry",
        "Switchboard",
        sent_fb.len(),
        sent.len()
    );
    // Give delivery/read receipts from the emulator a moment to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

async fn print_inbox(base: &str, token: &str) -> anyhow::Result<()> {
    let http = switchboard_channels::http_client();
    let get = |path: String| {
        let http = http.clone();
        async move {
            let v: Value = http
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await?
                .json()
                .await?;
            Ok::<Value, anyhow::Error>(v)
        }
    };
    println!("\nThe shared inbox, as the API shows it:");
    let channels = get("/api/v1/channels".into()).await?;
    for channel in channels.as_array().into_iter().flatten() {
        let id = channel["id"].as_i64().unwrap_or_default();
        println!(
            "  [{}] {}",
            channel["kind"].as_str().unwrap_or(""),
            channel["name"].as_str().unwrap_or("")
        );
        let contacts = get(format!("/api/v1/contacts?channel_id={id}")).await?;
        let conversations = get(format!("/api/v1/conversations?channel_id={id}")).await?;
        for conversation in conversations.as_array().into_iter().flatten() {
            let contact = contacts
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["id"] == conversation["contact_id"])
                .cloned()
                .unwrap_or(Value::Null);
            let name = contact["first_name"].as_str().unwrap_or("customer");
            let source = contact["source_ref"]
                .as_str()
                .map(|s| format!(", came from ref \"{s}\""))
                .unwrap_or_default();
            println!(
                "    conversation {} with {} ({}{})",
                conversation["id"],
                name,
                contact["external_id"].as_str().unwrap_or(""),
                source
            );
            let messages = get(format!(
                "/api/v1/conversations/{}/messages",
                conversation["id"]
            ))
            .await?;
            for m in messages.as_array().into_iter().flatten() {
                let arrow = if m["direction"] == "in" { "→" } else { "←" };
                println!(
                    "      {arrow} {:<11} {:<10} {}",
                    m["author_kind"].as_str().unwrap_or(""),
                    m["status"].as_str().unwrap_or(""),
                    m["text"].as_str().unwrap_or("(no text)")
                );
            }
        }
    }
    Ok(())
}
