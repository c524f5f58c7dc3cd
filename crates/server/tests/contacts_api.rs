//! What the team knows about a person shapes what may be sent to them: an unsubscribed person
//! gets no marketing, and declared custom attributes personalise messages.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::json;
use switchboard_emulator::{Platform, TelegramUser};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const BOT: &str = "7000000002:AAtestTOKEN_contacts";

on_both_backends!(
    an_unsubscribed_person_gets_answers_but_no_marketing,
    declared_attributes_personalise_and_undeclared_ones_are_refused,
);

/// A Telegram person who wrote once, and their contact and conversation ids.
async fn person(app: &TestApp) -> (Channel, i64, i64) {
    let (bot, conversation) = app
        .bot_with_a_person_who_wrote(BOT, TelegramUser::new(77, "Sari"), "halo")
        .await;
    let contact = app.contacts(&bot).await[0]["id"].as_i64().unwrap();
    (bot, contact, conversation)
}

async fn an_unsubscribed_person_gets_answers_but_no_marketing(db: TestDatabase) {
    let app = spawn_app(db).await;
    let (_, contact, conversation) = person(&app).await;
    let path = format!("/api/v1/contacts/{contact}/subscription");
    let (status, body) = app
        .send_api(Method::PUT, &path, json!({"subscribed": false}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["subscribed"], false);

    let send = format!("/api/v1/conversations/{conversation}/messages");
    let (status, body) = app
        .post_api(
            &send,
            json!({"text": "Diskon 20% hari ini!", "promotional": true}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "policy_denied", "{body}");
    assert_eq!(body["error"]["rule"], "recipient_unsubscribed", "{body}");

    // An answer to their own question still goes out.
    let (status, body) = app
        .post_api(&send, json!({"text": "Pesanan Anda sudah dikirim."}))
        .await;
    assert_eq!(status, 201, "{body}");

    // Resubscribing works the same way; bad input changes nothing.
    let (status, _) = app
        .send_api(Method::PUT, &path, json!({"subscribed": "yes"}))
        .await;
    assert_eq!(status, 422);
    let (status, body) = app
        .send_api(Method::PUT, &path, json!({"subscribed": true}))
        .await;
    assert_eq!((status, &body["subscribed"]), (200, &json!(true)));
    let (status, _) = app
        .send_api(
            Method::PUT,
            "/api/v1/contacts/999999/subscription",
            json!({"subscribed": true}),
        )
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

async fn declared_attributes_personalise_and_undeclared_ones_are_refused(db: TestDatabase) {
    let app = spawn_app(db).await;
    let (bot, contact, conversation) = person(&app).await;
    let attributes = format!("/api/v1/contacts/{contact}/attributes");
    let send = format!("/api/v1/conversations/{conversation}/messages");

    // Not declared yet: neither settable nor usable in a template.
    let (status, body) = app
        .send_api(Method::PATCH, &attributes, json!({"size": "M"}))
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .post_api(&send, json!({"text": "Ukuran {{attr.size|M}} siap."}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_template", "{body}");

    let (status, body) = app
        .send_api(
            Method::PUT,
            &format!("/api/v1/channels/{}/attribute-keys", bot.id),
            json!({"keys": ["size", "size", "colour"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["attribute_keys"], json!(["colour", "size"]));
    let (status, body) = app
        .send_api(
            Method::PUT,
            &format!("/api/v1/channels/{}/attribute-keys", bot.id),
            json!({"keys": ["Not A Key"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = app
        .send_api(
            Method::PATCH,
            &attributes,
            json!({"size": "XL", "colour": "biru"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["attributes"], json!({"colour": "biru", "size": "XL"}));
    let (status, body) = app
        .send_api(Method::PATCH, &attributes, json!({"colour": null}))
        .await;
    assert_eq!((status, &body["attributes"]), (200, &json!({"size": "XL"})));

    let (status, body) = app
        .post_api(
            &send,
            json!({"text": "Ukuran {{attr.size|M}} warna {{attr.colour|apa saja}} siap."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let sent = app
        .emulator
        .wait_for_calls(
            Platform::Telegram,
            "sendMessage",
            2,
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(sent[1].request["text"], "Ukuran XL warna apa saja siap.");
    app.stop().await;
}
