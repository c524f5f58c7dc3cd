//! An oversize body gets a 413 its sender actually reads, even when the sender writes the whole
//! body before reading anything (no `Expect: 100-continue`, like Python's urllib) — checked with
//! a raw TCP client, since an HTTP library might hide a reset by retrying. Nothing is stored.

mod common;

use std::time::Duration;

use common::*;
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const BOT: &str = "7000000001:AAtestTOKEN_abc";
const LIMIT: usize = 16 * 1024;
/// Well over the limit, and over what loopback socket buffers absorb without the server reading.
const OVERSIZE: usize = 2 * 1024 * 1024;

on_both_backends!(
    an_oversize_webhook_with_content_length_is_answered_413,
    an_oversize_chunked_webhook_is_answered_413,
    an_oversize_api_body_is_answered_413,
);

async fn app(db: TestDatabase) -> TestApp {
    spawn_app_with(db, |c| c.body_limit = LIMIT).await
}

/// A syntactically valid Telegram update, padded with text to `size` bytes.
fn big_update(size: usize) -> Vec<u8> {
    let head = r#"{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":42,"type":"private"},"from":{"id":42,"is_bot":false,"first_name":"Ann"},"text":""#;
    let tail = r#""}}"#;
    let mut body = head.as_bytes().to_vec();
    body.resize(size - tail.len(), b'a');
    body.extend_from_slice(tail.as_bytes());
    body
}

/// Writes the whole request, then reads the whole response; panics on a reset.
async fn raw_exchange(app: &TestApp, head: String, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(app.server.addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream
        .write_all(body)
        .await
        .expect("write body (the server reset the connection)");
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut response))
        .await
        .expect("the server answers and closes")
        .expect("read the response (the server reset the connection)");
    String::from_utf8_lossy(&response).into_owned()
}

fn webhook_head(app: &TestApp, channel: &Channel, framing: &str) -> String {
    format!(
        "POST /webhooks/telegram/{} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         X-Telegram-Bot-Api-Secret-Token: {BOT_SECRET}\r\n{framing}\r\n\r\n",
        channel.id, app.server.addr
    )
}

async fn an_oversize_webhook_with_content_length_is_answered_413(db: TestDatabase) {
    let app = app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    let body = big_update(OVERSIZE);
    let head = webhook_head(&app, &bot, &format!("Content-Length: {}", body.len()));
    let response = raw_exchange(&app, head, &body).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response:.300}");
    assert!(response.contains("payload_too_large"), "{response:.600}");
    assert_eq!(
        app.server.store.count_events(bot_id(&bot)).await.unwrap(),
        0
    );

    // The limit itself is still accepted: the refusal is about size, not about this channel.
    let ok = big_update(LIMIT);
    let framing = format!("Content-Length: {}\r\nConnection: close", ok.len());
    let response = raw_exchange(&app, webhook_head(&app, &bot, &framing), &ok).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response:.300}");
    app.stop().await;
}

async fn an_oversize_chunked_webhook_is_answered_413(db: TestDatabase) {
    let app = app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    let body = big_update(OVERSIZE);
    let mut chunked = Vec::with_capacity(body.len() + 1024);
    for chunk in body.chunks(8 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = webhook_head(&app, &bot, "Transfer-Encoding: chunked");
    let response = raw_exchange(&app, head, &chunked).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response:.300}");
    assert_eq!(
        app.server.store.count_events(bot_id(&bot)).await.unwrap(),
        0
    );
    app.stop().await;
}

async fn an_oversize_api_body_is_answered_413(db: TestDatabase) {
    let app = app(db).await;
    let bot = app.connect_bot(BOT, "webhook").await;
    let text = "a".repeat(OVERSIZE);
    let body = format!(r#"{{"text":"{text}"}}"#).into_bytes();
    let head = format!(
        "POST /api/v1/conversations/1/messages HTTP/1.1\r\nHost: {}\r\n\
         Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        app.server.addr,
        body.len()
    );
    let response = raw_exchange(&app, head, &body).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response:.300}");
    assert_eq!(app.server.store.count_unsent().await.unwrap(), 0);
    assert_eq!(
        app.server.store.count_events(bot_id(&bot)).await.unwrap(),
        0
    );
    app.stop().await;
}

fn bot_id(channel: &Channel) -> switchboard_domain::ChannelId {
    switchboard_domain::ChannelId(channel.id)
}
