//! The management API: roles, validation, and secrets that never come back out.

mod common;

use common::*;
use serde_json::json;
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

on_both_backends!(
    every_api_route_requires_the_admin_token,
    channel_creation_validates_each_field,
    secrets_are_never_returned,
    unknown_resources_are_json_404s,
);

async fn every_api_route_requires_the_admin_token(db: TestDatabase) {
    let app = spawn_app(db).await;
    for path in [
        "/api/v1/channels",
        "/api/v1/contacts?channel_id=1",
        "/api/v1/conversations?channel_id=1",
        "/api/v1/conversations/1/messages",
    ] {
        let anon = app
            .http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status().as_u16(), 401, "{path}");
        let wrong = app
            .http
            .get(format!("{}{path}", app.base))
            .bearer_auth("guess")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status().as_u16(), 401, "{path}");
    }
    let create = app
        .http
        .post(format!("{}/api/v1/channels", app.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(create.status().as_u16(), 401);
    app.stop().await;
}

async fn channel_creation_validates_each_field(db: TestDatabase) {
    let app = spawn_app(db).await;
    let base = json!({"kind": "messenger", "name": "Shop", "page_id": "123", "page_access_token": "t",
                      "app_secret": "s", "verify_token": "v"});
    let with = |field: &str, value: serde_json::Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    for (body, field) in [
        (with("page_id", json!("12ab")), "page_id"),
        (with("name", json!("  ")), "name"),
        (with("app_secret", json!("")), "app_secret"),
        (
            with("default_reply", json!("x".repeat(2001))),
            "default_reply",
        ),
    ] {
        let (status, err) = app.post_api("/api/v1/channels", body).await;
        assert_eq!(status, 422, "{err}");
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    let (status, err) = app
        .post_api(
            "/api/v1/channels",
            json!({"kind": "telegram", "name": "b", "bot_token": "nocolon", "secret_token": "ok"}),
        )
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("bot_token"))
    );
    let (status, err) = app
        .post_api("/api/v1/channels", json!({"kind": "telegram", "name": "b", "bot_token": "1:a", "secret_token": "has space"}))
        .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("secret_token"))
    );
    let (status, _) = app
        .post_api("/api/v1/channels", json!({"kind": "fax", "name": "b"}))
        .await;
    assert_eq!(status, 422);
    let raw = app
        .http
        .post(format!("{}/api/v1/channels", app.base))
        .bearer_auth(ADMIN_TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    assert_eq!(
        app.get_api("/api/v1/channels").await.1,
        json!([]),
        "nothing was created"
    );

    let (status, _) = app.post_api("/api/v1/channels", base.clone()).await;
    assert_eq!(status, 201);
    let (status, err) = app.post_api("/api/v1/channels", base).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (409, Some("conflict"))
    );
    app.stop().await;
}

async fn secrets_are_never_returned(db: TestDatabase) {
    let app = spawn_app(db).await;
    app.connect_page("555").await;
    app.connect_bot("42:SUPERSECRETbot", "webhook").await;
    let (status, listed) = app.get_api("/api/v1/channels").await;
    assert_eq!(status, 200);
    let text = listed.to_string();
    for secret in [
        APP_SECRET,
        PAGE_TOKEN,
        VERIFY_TOKEN,
        "SUPERSECRETbot",
        BOT_SECRET,
    ] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(
        listed[0]["webhook_path"],
        format!("/webhooks/messenger/{}", listed[0]["id"])
    );
    app.stop().await;
}

async fn unknown_resources_are_json_404s(db: TestDatabase) {
    let app = spawn_app(db).await;
    let (status, body) = app.get_api("/api/v1/conversations/999/messages").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, _) = app.get_api("/api/v1/conversations/abc/messages").await;
    assert_eq!(status, 404);
    let (status, _) = app.get_api("/api/v1/contacts").await;
    assert_eq!(status, 422, "channel_id is required");
    let r = app
        .http
        .post(format!("{}/webhooks/messenger/77", app.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    app.stop().await;
}
