//! `switchboard demo`: the whole path — webhook, store, outbox, channel client, status — on a
//! throwaway SQLite database against the built-in emulator, with a scripted conversation.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use switchboard_emulator::{
    BotSpec, Emulator, EmulatorConfig, EmulatorHandle, MessengerUserProfile, PageSpec, Platform,
    Signing, TelegramUser,
};
use switchboard_server::{Server, ServerConfig};
use switchboard_storage::Store;

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
    println!(
        "Switchboard demo — server {base}, emulator {}",
        emulator.base_url()
    );
    println!("database: {}\n", db.display());
    config_public_webhooks(&emulator, &base, &admin_token).await?;
    play_script(&emulator, &server.store).await?;
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
    for (channel, automations) in [(&page, page_automations()), (&bot, bot_automations())] {
        let res = http
            .put(format!(
                "{base}/api/v1/channels/{}/automations",
                channel["id"]
            ))
            .bearer_auth(token)
            .json(&automations)
            .send()
            .await?;
        if !res.status().is_success() {
            bail!(
                "saving automations answered {}: {}",
                res.status(),
                res.text().await.unwrap_or_default()
            );
        }
    }
    println!(
        "Automations saved: welcome, FAQ, default reply, hand-over, unsubscribe words, business hours with an away message (Telegram), and the gift-finder bot"
    );
    Ok(())
}

fn text(default: &str) -> Value {
    json!({"default": {"type": "text", "text": default}})
}

/// What both channels share: FAQ, hand-over, default reply.
fn shared_automations() -> Value {
    json!({
        "faq": [{
            "id": "shipping", "offer": true,
            "question": {"default": "Do you ship abroad?", "locales": {"id": "Apakah bisa kirim ke luar kota?"}},
            "phrasings": {"default": ["ship to", "shipping", "delivery"],
                          "locales": {"id": ["kirim ke", "ongkir", "pengiriman"]}},
            "answer": {"default": {"type": "text", "text": "Yes! We ship worldwide in 3–7 days, free above 50 €."},
                       "locales": {"id": {"type": "text", "text": "Bisa! Kami kirim ke seluruh Indonesia dalam 2–4 hari."}}}
        }],
        "default_reply": {"enabled": true, "message": text("Thanks for writing to Toko Batik! A person from our team will answer within the hour.")},
        "handover": {"max_unrecognised": 3, "message": text("I'll get a colleague for you — they'll answer right here.")},
        "goodbye": {"enabled": true, "message": {
            "default": {"type": "text", "text": "You're unsubscribed. Send START any time to come back."},
            "locales": {"id": {"type": "text", "text": "Anda sudah berhenti berlangganan. Ketik MULAI untuk kembali."}}}}
    })
}

fn page_automations() -> Value {
    let mut a = shared_automations();
    a["presentation"] = json!({"get_started": true,
        "greeting": {"default": "Hi {{user_first_name}}! Batik, gifts and answers from real people."}});
    a["welcome"] = json!({"enabled": true, "message": {"default": {"type": "text",
        "text": "Welcome {{first_name|friend}}! Looking for a gift? Tap below, or just ask.",
        "quick_replies": [{"type": "text", "title": "Find a gift", "payload": "GIFT_FINDER"}]}}});
    a["flows"] = json!([switchboard_automation::flow::gift_finder()]);
    a
}

fn bot_automations() -> Value {
    let mut a = shared_automations();
    a["presentation"] = json!({"greeting": {"default": "Batik and gifts from Toko Batik, answered by real people.",
        "locales": {"id": "Batik dan hadiah dari Toko Batik, dijawab oleh orang sungguhan."}}});
    a["welcome"] = json!({"enabled": true, "message": {
        "default": {"type": "text", "text": "Welcome {{first_name|friend}}! Ask us anything."},
        "locales": {"id": {"type": "text", "text": "Selamat datang, {{first_name|kak}}! Silakan bertanya apa saja."}}}});
    // Open every day 09:00–17:00 in Jakarta, and today is a holiday: so that whenever the demo
    // runs, a question nobody's automation understands gets the away message, with the
    // reopening time computed from the schedule.
    let every_day: Vec<Value> = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ]
    .iter()
    .map(|day| json!({"day": day, "open": "09:00", "close": "17:00"}))
    .collect();
    a["business_hours"] = json!({"time_zone": DEMO_TIME_ZONE, "weekly": every_day,
        "holidays": [{"date": today_in(DEMO_TIME_ZONE), "name": "Toko Batik's anniversary"}]});
    a["away"] = json!({"enabled": true, "message": {
        "default": {"type": "text", "text": "We're closed today and back {{back_at}}. We'll answer then!"},
        "locales": {"id": {"type": "text", "text": "Hari ini kami libur dan buka lagi {{back_at}}. Pesan Anda akan kami jawab."}}}});
    a
}

const DEMO_TIME_ZONE: &str = "Asia/Jakarta";

/// Today's date (`YYYY-MM-DD`) in an IANA time zone.
fn today_in(zone: &str) -> String {
    jiff::Timestamp::now()
        .in_tz(zone)
        .map(|now| now.date().to_string())
        .unwrap_or_else(|_| jiff::Zoned::now().date().to_string())
}

async fn play_script(emulator: &EmulatorHandle, store: &Store) -> anyhow::Result<()> {
    let step =
        |who: &str, what: &str, status: u16| println!("  {who:<18} {what:<58} → webhook {status}");
    println!("\nScripted conversation:");
    emulator.messenger_set_user_profile(
        PAGE_ID,
        ANN,
        MessengerUserProfile {
            first_name: "Ann".into(),
            last_name: "Lee".into(),
            locale: Some("en_GB".into()),
            ..Default::default()
        },
    );
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
    settle(store).await;
    let r = emulator
        .messenger_user_sends_text(PAGE_ID, ANN, "Hi! Do you ship to Jakarta?")
        .await;
    step(
        "Ann (Messenger)",
        "\"Hi! Do you ship to Jakarta?\"  (a FAQ)",
        r.status,
    );
    settle(store).await;
    let r = tap_quick_reply(emulator, "Find a gift", "GIFT_FINDER").await;
    step(
        "Ann (Messenger)",
        "taps \"Find a gift\": the gift-finder bot starts",
        r.status,
    );
    settle(store).await;
    let r = tap_quick_reply(emulator, "Mum", "WHO_MUM").await;
    step("Ann (Messenger)", "taps \"Mum\"", r.status);
    settle(store).await;
    let r = emulator
        .messenger_user_sends_text(PAGE_ID, ANN, "about 40 euros")
        .await;
    step(
        "Ann (Messenger)",
        "types \"about 40 euros\": a carousel of 3 gifts",
        r.status,
    );
    settle(store).await;
    let r = tap_quick_reply(emulator, "No, thanks", "MORE_NO").await;
    step(
        "Ann (Messenger)",
        "taps \"No, thanks\": the bot says goodbye",
        r.status,
    );
    settle(store).await;

    // Meta retries deliveries it is not sure about: the same bytes again must change nothing.
    let now = switchboard_domain::Millis::now().0;
    let retry = json!({"object": "page", "entry": [{"id": PAGE_ID, "time": now, "messaging": [{
        "sender": {"id": ANN}, "recipient": {"id": PAGE_ID}, "timestamp": now,
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
        "\"Is the blue batik in stock?\" delivered twice (one answer)",
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
    settle(store).await;
    let r = emulator
        .messenger_user_sends_text(PAGE_ID, ANN, "Can I talk to a real person?")
        .await;
    step(
        "Ann (Messenger)",
        "\"Can I talk to a real person?\": handed over to the team",
        r.status,
    );
    settle(store).await;
    let r = emulator
        .messenger_user_sends_text(PAGE_ID, ANN, "It's about my order from May.")
        .await;
    step(
        "Ann (Messenger)",
        "\"It's about my order from May.\" (bots stay silent: waiting)",
        r.status,
    );
    settle(store).await;

    let budi = TelegramUser::new(5_551_234, "Budi").with_language("id");
    let r = emulator
        .telegram_user_sends_text(BOT_TOKEN, budi.clone(), "/start promo1")
        .await;
    step(
        "Budi (Telegram)",
        "opens t.me/toko_batik_bot?start=promo1",
        r.status,
    );
    settle(store).await;
    let r = emulator
        .telegram_user_sends_text(BOT_TOKEN, budi.clone(), "Berapa ongkir kirim ke Bandung?")
        .await;
    step(
        "Budi (Telegram)",
        "\"Berapa ongkir kirim ke Bandung?\"  (the FAQ, in Indonesian)",
        r.status,
    );
    settle(store).await;
    let r = emulator
        .telegram_user_sends_text(BOT_TOKEN, budi.clone(), "Halo, hari ini buka?")
        .await;
    step(
        "Budi (Telegram)",
        "\"Halo, hari ini buka?\"  (a holiday: the away message)",
        r.status,
    );
    settle(store).await;
    let r = emulator
        .telegram_user_sends_text(BOT_TOKEN, budi, "berhenti")
        .await;
    step(
        "Budi (Telegram)",
        "\"berhenti\": unsubscribes, gets the goodbye",
        r.status,
    );
    settle(store).await;
    let sent_fb = emulator.count_calls(Platform::Messenger, "messages", true);
    let sent_tg = emulator.count_calls(Platform::Telegram, "sendMessage", true);
    println!(
        "  {:<18} {sent_fb} Messenger and {sent_tg} Telegram messages sent — one automatic answer per customer action, none for the retry",
        "Switchboard",
    );
    // Give delivery/read receipts from the emulator a moment to arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

/// Ann taps one of the quick replies a message offered her.
async fn tap_quick_reply(
    emulator: &EmulatorHandle,
    title: &str,
    payload: &str,
) -> switchboard_emulator::DeliveryResult {
    emulator
        .messenger_user_event(
            PAGE_ID,
            ANN,
            json!({"message": {"text": title, "quick_reply": {"payload": payload}}}),
        )
        .await
}

/// Waits until every automatic answer is decided and sent (10 s at most).
async fn settle(store: &Store) {
    for _ in 0..200 {
        let deciding = store.count_open_automation().await.unwrap_or(0);
        let unsent = store.count_unsent().await.unwrap_or(0);
        if deciding == 0 && unsent == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
        for conversation in conversations["items"].as_array().into_iter().flatten() {
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
            let waiting = if conversation["status"] == "pending" {
                " — waiting for a human"
            } else {
                ""
            };
            println!(
                "    conversation {} with {} ({}{}){waiting}",
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
                let text = m["text"]
                    .as_str()
                    .unwrap_or("(no text)")
                    .replace('\n', " · ");
                let author = m["author_kind"].as_str().unwrap_or("");
                // A bot speaking as a persona shows as it (Messenger shows its name and picture).
                let author = match m["content"]["persona"]["name"].as_str() {
                    Some(persona) => format!("{author} ({persona})"),
                    None => author.to_owned(),
                };
                println!(
                    "      {arrow} {:<11} {:<10} {}",
                    author,
                    m["status"].as_str().unwrap_or(""),
                    text
                );
            }
        }
    }
    Ok(())
}
