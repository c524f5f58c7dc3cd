//! People and roles, as the team lives them: logging in, sessions and CSRF, personal tokens,
//! throttled guessing, deactivation, and an agent who sees only their team's customers.

mod common;

use common::{PASSWORD, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_emulator::TelegramUser;
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

on_both_backends!(
    an_agent_logs_in_works_with_the_session_and_logs_out,
    a_wrong_password_and_an_unknown_email_answer_alike_and_guessing_is_throttled,
    a_personal_token_acts_with_its_users_role_and_dies_with_deactivation,
    an_agent_of_team_a_cannot_see_team_bs_customers,
    only_owners_make_owners_and_the_last_owner_stays,
    people_actions_are_audited_for_owners_and_admins,
);

async fn an_agent_logs_in_works_with_the_session_and_logs_out(db: TestDatabase) {
    let app = spawn_app(db).await;
    let ana = app.person("agent", "Ana@Example.com", &[]).await;

    // Who am I: the page learns its CSRF token here.
    let (status, me) = app
        .as_person(&ana, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], "ana@example.com");
    assert_eq!(me["role"], "agent");
    assert_eq!(me["csrf_token"], ana.csrf.as_str());
    assert!(me["user"].get("password_hash").is_none(), "{me}");

    // A state change without the CSRF token is refused, and changes nothing.
    let (status, body) = app
        .as_person(
            &ana,
            Method::PATCH,
            "/api/v1/me",
            Some(json!({"availability": "online"})),
            Some("forged"),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (_, me) = app
        .as_person(&ana, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(me["user"]["availability"], "offline");

    // With it, she goes online and picks her language and time zone.
    let (status, body) = app
        .as_person(
            &ana,
            Method::PATCH,
            "/api/v1/me",
            Some(json!({"availability": "online", "locale": "it", "time_zone": "Europe/Rome"})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["availability"], "online");
    assert_eq!(body["user"]["time_zone"], "Europe/Rome");
    let (status, body) = app
        .as_person(
            &ana,
            Method::PATCH,
            "/api/v1/me",
            Some(json!({"time_zone": "Mars/Olympus"})),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "time_zone");

    // Logging out ends the session on the server: the old cookie opens nothing.
    let (status, _) = app
        .as_person(&ana, Method::POST, "/api/v1/auth/logout", None, None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .as_person(&ana, Method::GET, "/api/v1/me", None, None)
        .await;
    assert_eq!(status, 401);
    app.stop().await;
}

async fn a_wrong_password_and_an_unknown_email_answer_alike_and_guessing_is_throttled(
    db: TestDatabase,
) {
    let app = spawn_app(db).await;
    app.person("agent", "ana@example.com", &[]).await;

    let wrong = app.login("ana@example.com", "not her password").await.err();
    let unknown = app.login("nobody@example.com", PASSWORD).await.err();
    let (status, body) = wrong.expect("refused");
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_credentials");
    assert_eq!(
        unknown.expect("refused"),
        (status, body),
        "no hint which part was wrong"
    );

    // Four more wrong guesses use up the account's five; then even the right password waits.
    for _ in 0..4 {
        assert_eq!(
            app.login("ana@example.com", "guess").await.err().unwrap().0,
            401
        );
    }
    let (status, body) = app
        .login("ana@example.com", PASSWORD)
        .await
        .err()
        .expect("held");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "throttled");
    app.stop().await;
}

async fn a_personal_token_acts_with_its_users_role_and_dies_with_deactivation(db: TestDatabase) {
    let app = spawn_app(db).await;
    let bo = app.person("agent", "bo@example.com", &[]).await;
    let (status, created) = app
        .as_person(
            &bo,
            Method::POST,
            "/api/v1/me/tokens",
            Some(json!({"name": "my script"})),
            None,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"]
        .as_str()
        .expect("token shown once")
        .to_owned();
    assert!(token.starts_with("sb_pat_"));
    let (_, listed) = app
        .as_person(&bo, Method::GET, "/api/v1/me/tokens", None, None)
        .await;
    assert!(
        !listed.to_string().contains(&token),
        "never shown again: {listed}"
    );

    // The token is Bo, an agent: no CSRF needed, no owner rights either.
    let (status, me) = app
        .with_token(&token, Method::GET, "/api/v1/me", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["email"], "bo@example.com");
    let (status, body) = app
        .with_token(
            &token,
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "x@example.com", "name": "X", "role": "owner", "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, 403, "{body}");

    // Bo leaves: deactivated, his session and token stop at once; his history keeps him.
    let (status, body) = app
        .send_api(
            Method::PATCH,
            &format!("/api/v1/users/{}", bo.id),
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    assert_eq!(
        app.with_token(&token, Method::GET, "/api/v1/me", None)
            .await
            .0,
        401
    );
    assert_eq!(
        app.as_person(&bo, Method::GET, "/api/v1/me", None, None)
            .await
            .0,
        401
    );
    assert_eq!(
        app.login("bo@example.com", PASSWORD).await.err().unwrap().0,
        401
    );
    app.stop().await;
}

async fn an_agent_of_team_a_cannot_see_team_bs_customers(db: TestDatabase) {
    let app = spawn_app(db).await;
    let (shop_a, conversation_a) = app
        .bot_with_a_person_who_wrote("111:AAA", TelegramUser::new(601, "Ana"), "hi A")
        .await;
    let (shop_b, conversation_b) = app
        .bot_with_a_person_who_wrote("222:BBB", TelegramUser::new(602, "Budi"), "hi B")
        .await;
    let (_, team_a) = app
        .post_api(
            "/api/v1/teams",
            json!({"name": "A", "channel_ids": [shop_a.id]}),
        )
        .await;
    let (status, team_b) = app
        .post_api(
            "/api/v1/teams",
            json!({"name": "B", "channel_ids": [shop_b.id]}),
        )
        .await;
    assert_eq!(status, 201, "{team_b}");
    let agent = app
        .person(
            "agent",
            "agent@example.com",
            &[team_a["id"].as_i64().unwrap()],
        )
        .await;
    let get = |path: String| {
        let app = &app;
        let agent = &agent;
        async move { app.as_person(agent, Method::GET, &path, None, None).await }
    };

    // Her own team's customer: list, thread and card.
    let (status, list) = get(format!("/api/v1/conversations?channel_id={}", shop_a.id)).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"][0]["id"], conversation_a);
    let (status, _) = get(format!("/api/v1/conversations/{conversation_a}/messages")).await;
    assert_eq!(status, 200);
    let contact_a = list["items"][0]["contact_id"].as_i64().unwrap();
    assert_eq!(get(format!("/api/v1/contacts/{contact_a}")).await.0, 200);

    // Team B's: as if it did not exist, wherever she looks.
    let (status, list) = get(format!("/api/v1/conversations?channel_id={}", shop_b.id)).await;
    assert_eq!(status, 200);
    assert!(list["items"].as_array().unwrap().is_empty(), "{list}");
    let (_, everything) = get("/api/v1/conversations".into()).await;
    let ids: Vec<&Value> = everything["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(
        ids,
        vec![&json!(conversation_a)],
        "her whole inbox is team A's"
    );
    let (status, _) = get(format!("/api/v1/conversations/{conversation_b}/messages")).await;
    assert_eq!(status, 404);
    let (status, _) = get(format!("/api/v1/contacts?channel_id={}", shop_b.id)).await;
    assert_eq!(status, 404);
    let (_, b_list) = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", shop_b.id))
        .await;
    let contact_b = b_list["items"][0]["contact_id"].as_i64().unwrap();
    assert_eq!(get(format!("/api/v1/contacts/{contact_b}")).await.0, 404);
    let (status, _) = app
        .as_person(
            &agent,
            Method::POST,
            &format!("/api/v1/conversations/{conversation_b}/messages"),
            Some(json!({"text": "hello from the wrong team"})),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .as_person(
            &agent,
            Method::PUT,
            &format!("/api/v1/conversations/{conversation_b}/status"),
            Some(json!({"status": "resolved"})),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // And she can answer her own customer.
    let (status, body) = app
        .as_person(
            &agent,
            Method::POST,
            &format!("/api/v1/conversations/{conversation_a}/messages"),
            Some(json!({"text": "Hi Ana, how can I help?"})),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    app.stop().await;
}

async fn only_owners_make_owners_and_the_last_owner_stays(db: TestDatabase) {
    let app = spawn_app(db).await;
    let owner = app.person("owner", "owner@example.com", &[]).await;
    let admin = app.person("admin", "admin@example.com", &[]).await;

    let new_owner =
        json!({"email": "o2@example.com", "name": "O2", "role": "owner", "password": PASSWORD});
    let (status, body) = app
        .as_person(
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(new_owner.clone()),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("manage owners")
    );
    let (status, _) = app
        .as_person(
            &admin,
            Method::PATCH,
            &format!("/api/v1/users/{}", owner.id),
            Some(json!({"active": false})),
            None,
        )
        .await;
    assert_eq!(status, 403, "an admin cannot remove an owner");
    let (status, body) = app
        .as_person(
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "agent@example.com", "name": "Agent", "role": "agent", "password": PASSWORD})),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .as_person(
            &admin,
            Method::POST,
            "/api/v1/users",
            Some(json!({"email": "AGENT@example.com", "name": "Again", "role": "agent", "password": PASSWORD})),
            None,
        )
        .await;
    assert_eq!(
        status, 409,
        "one account per address, whatever the case: {body}"
    );

    // The only owner cannot demote themselves away.
    let (status, body) = app
        .as_person(
            &owner,
            Method::PATCH,
            &format!("/api/v1/users/{}", owner.id),
            Some(json!({"role": "admin"})),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = app
        .as_person(&owner, Method::POST, "/api/v1/users", Some(new_owner), None)
        .await;
    assert_eq!(status, 201);
    let (status, body) = app
        .as_person(
            &owner,
            Method::PATCH,
            &format!("/api/v1/users/{}", owner.id),
            Some(json!({"role": "admin"})),
            None,
        )
        .await;
    assert_eq!(status, 200, "with a second owner it may: {body}");
    app.stop().await;
}

async fn people_actions_are_audited_for_owners_and_admins(db: TestDatabase) {
    let app = spawn_app(db).await;
    let admin = app.person("admin", "admin@example.com", &[]).await;
    let agent = app.person("agent", "agent@example.com", &[]).await;
    let (status, _) = app
        .as_person(
            &admin,
            Method::PATCH,
            &format!("/api/v1/users/{}", agent.id),
            Some(json!({"capacity": 3})),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, log) = app
        .as_person(&admin, Method::GET, "/api/v1/audit", None, None)
        .await;
    assert_eq!(status, 200, "{log}");
    let items = log["items"].as_array().unwrap();
    let update = items
        .iter()
        .find(|e| e["action"] == "user.updated")
        .expect("the capacity change is in the log");
    assert_eq!(update["actor"], format!("user:{}", admin.id));
    assert_eq!(update["target"], format!("user:{}", agent.id));
    assert_eq!(update["ip"], "127.0.0.1");
    assert!(items.iter().any(|e| e["action"] == "auth.login"));
    assert!(!log.to_string().contains(PASSWORD), "no secret in the log");
    let (status, _) = app
        .as_person(&agent, Method::GET, "/api/v1/audit", None, None)
        .await;
    assert_eq!(status, 403);
    app.stop().await;
}
