//! A Messenger webhook names nobody: Switchboard asks the User Profile API once per person, in
//! the background, and personalises with the answer.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use switchboard_emulator::{MessengerUserProfile, Platform};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const PAGE: &str = "1000000077";
const GIULIA: &str = "24000000000000077";
const NOBODY: &str = "24000000000000078";

on_both_backends!(names_are_fetched_once_and_used_to_personalise);

async fn names_are_fetched_once_and_used_to_personalise(db: TestDatabase) {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    app.emulator.messenger_set_user_profile(
        PAGE,
        GIULIA,
        MessengerUserProfile {
            first_name: "Giulia".into(),
            last_name: "Rossi".into(),
            locale: Some("it_IT".into()),
            ..Default::default()
        },
    );
    app.emulator.messenger_register_user(PAGE, NOBODY);
    for text in ["Ciao!", "Avete la taglia M?", "Grazie"] {
        app.emulator
            .messenger_user_sends_text(PAGE, GIULIA, text)
            .await;
    }
    app.emulator
        .messenger_user_sends_text(PAGE, NOBODY, "hi")
        .await;

    let giulia = wait_for(|| async {
        app.contacts(&page)
            .await
            .into_iter()
            .find(|c| c["external_id"] == GIULIA && c["first_name"] == "Giulia")
    })
    .await;
    assert_eq!(giulia["last_name"], "Rossi");
    assert_eq!(giulia["locale"], "it_IT");

    let conversation = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", page.id))
        .await
        .1["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["contact_id"] == giulia["id"])
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, body) = app
        .post_api(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"text": "Ciao {{first_name|a te}}, la M è disponibile."}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let sent = wait_for(|| async {
        app.sends(Platform::Messenger)
            .into_iter()
            .find(|c| c.request["message"]["text"] == "Ciao Giulia, la M è disponibile.")
    })
    .await;
    assert!(sent.is_success());

    // Asked once per person, however many messages they sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let asked = app
        .emulator
        .calls_matching(Platform::Messenger, "user_profile");
    assert_eq!(asked.len(), 2, "{asked:#?}");
    app.stop().await;
}
