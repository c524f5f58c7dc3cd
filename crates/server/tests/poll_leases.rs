//! Two nodes on one database: only the holder of a bot's poll lease calls `getUpdates` (no 409s
//! at the platform, each update stored once), and the other node takes over when it shuts down.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use switchboard_domain::ChannelId;
use switchboard_emulator::{Platform, TelegramUser};
use switchboard_server::{Server, ServerConfig, ServerHandle};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const BOT: &str = "7000000001:AAtestTOKEN_abc";

on_both_backends!(one_node_polls_a_bot_and_another_takes_over);

/// A second node on the same database and emulator.
async fn second_node(app: &TestApp, node_id: &str) -> ServerHandle {
    let mut config = ServerConfig::new(app.db.url.clone(), SocketAddr::from(([127, 0, 0, 1], 0)));
    config.graph_api_url = app.emulator.graph_api_url();
    config.telegram_api_url = app.emulator.telegram_api_url();
    config.admin_token = Some(ADMIN_TOKEN.into());
    config.node_id = Some(node_id.into());
    Server::start(config).await.expect("start second node")
}

async fn holder(store: &switchboard_storage::Store, bot: ChannelId) -> Option<String> {
    store.poll_lease(bot).await.expect("lease").map(|(h, _)| h)
}

fn conflicts(app: &TestApp) -> usize {
    app.emulator
        .calls_matching(Platform::Telegram, "getUpdates")
        .iter()
        .filter(|c| c.status == 409)
        .count()
}

async fn one_node_polls_a_bot_and_another_takes_over(db: TestDatabase) {
    let app = spawn_app_with(db, |c| c.node_id = Some("node-a".into())).await;
    let bot = app.connect_bot(BOT, "polling").await;
    let bot_id = ChannelId(bot.id);
    let b = second_node(&app, "node-b").await;
    let store = b.store.clone();
    wait_for(|| async {
        holder(&store, bot_id)
            .await
            .filter(|h| h.starts_with("node-a#"))
    })
    .await;

    app.emulator
        .telegram_user_sends_text(BOT, TelegramUser::new(42, "Budi"), "halo")
        .await;
    wait_for(|| async { (store.count_events(bot_id).await.ok()? == 1).then_some(()) }).await;
    // Both nodes run a poller for several lease periods: only one of them calls getUpdates.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(
        conflicts(&app),
        0,
        "two pollers ended each other's getUpdates"
    );
    assert!(holder(&store, bot_id).await.unwrap().starts_with("node-a#"));
    assert_eq!(store.count_events(bot_id).await.unwrap(), 1);

    let TestApp {
        server: a,
        emulator,
        db,
        ..
    } = app;
    a.shutdown().await;
    wait_for(|| async {
        holder(&store, bot_id)
            .await
            .filter(|h| h.starts_with("node-b#"))
    })
    .await;
    emulator
        .telegram_user_sends_text(BOT, TelegramUser::new(42, "Budi"), "masih ada?")
        .await;
    wait_for(|| async { (store.count_events(bot_id).await.ok()? == 2).then_some(()) }).await;
    b.shutdown().await;
    emulator.shutdown();
    drop(db);
}
