//! Every private route × every role, plus no credentials and a forged CSRF token: the role
//! matrix (ARCHITECTURE.md, `service::actor::MATRIX`) as the API enforces it. The expectations
//! here are written from the description of the roles, not read from the code: a change
//! to the matrix must change this table too.

mod common;

use common::{TestApp, spawn_app};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_emulator::TelegramUser;
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

on_both_backends!(every_route_answers_each_role_as_the_matrix_says);

const ALL: &[&str] = &["owner", "admin", "supervisor", "agent", "marketer"];
const MANAGERS: &[&str] = &["owner", "admin"];
const INBOX: &[&str] = &["owner", "admin", "supervisor", "agent"];
const CONTACT_MANAGERS: &[&str] = &["owner", "admin", "supervisor", "marketer"];

struct Route {
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: &'static [&'static str],
}

fn route(
    method: Method,
    path: String,
    body: Option<Value>,
    allowed: &'static [&'static str],
) -> Route {
    Route {
        method,
        path,
        body,
        allowed,
    }
}

async fn every_route_answers_each_role_as_the_matrix_says(db: TestDatabase) {
    let app = spawn_app(db).await;
    let (shop, conversation) = app
        .bot_with_a_person_who_wrote("333:CCC", TelegramUser::new(701, "Chiara"), "ciao")
        .await;
    let (_, contacts) = app
        .get_api(&format!("/api/v1/contacts?channel_id={}", shop.id))
        .await;
    let contact = contacts[0]["id"].as_i64().expect("contact");
    let (_, team) = app
        .post_api(
            "/api/v1/teams",
            json!({"name": "Shop", "channel_ids": [shop.id]}),
        )
        .await;
    let team = team["id"].as_i64().expect("team");
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2)).to_string();
    let (status, scheduled) = app
        .post_api(
            &format!("/api/v1/conversations/{conversation}/messages"),
            json!({"text": "Later", "send_at": later}),
        )
        .await;
    assert_eq!(status, 201, "{scheduled}");
    let scheduled = scheduled["scheduled_message"]["id"].as_i64().unwrap();
    let mut people = Vec::new();
    for role in ALL {
        people.push((
            *role,
            app.person(role, &format!("{role}@example.com"), &[team])
                .await,
        ));
    }
    let agent_id = people[3].1.id;
    let c = shop.id;
    let routes = [
        route(Method::GET, "/api/v1/me".into(), None, ALL),
        route(
            Method::PATCH,
            "/api/v1/me".into(),
            Some(json!({"availability": "online"})),
            ALL,
        ),
        route(Method::GET, "/api/v1/me/tokens".into(), None, ALL),
        route(
            Method::POST,
            "/api/v1/me/tokens".into(),
            Some(json!({})),
            ALL,
        ),
        route(Method::DELETE, "/api/v1/me/tokens/999999".into(), None, ALL),
        route(Method::GET, "/api/v1/users".into(), None, ALL),
        route(
            Method::POST,
            "/api/v1/users".into(),
            Some(
                json!({"email": "new@example.com", "name": "New", "role": "agent", "password": "long enough pw"}),
            ),
            MANAGERS,
        ),
        route(
            Method::PATCH,
            format!("/api/v1/users/{agent_id}"),
            Some(json!({"capacity": 3})),
            MANAGERS,
        ),
        route(Method::GET, "/api/v1/teams".into(), None, ALL),
        route(
            Method::POST,
            "/api/v1/teams".into(),
            Some(json!({"name": "Another"})),
            MANAGERS,
        ),
        route(Method::GET, "/api/v1/audit".into(), None, MANAGERS),
        route(Method::GET, "/api/v1/channels".into(), None, ALL),
        route(
            Method::POST,
            "/api/v1/channels".into(),
            Some(
                json!({"kind": "telegram", "name": "Other", "bot_token": "444:DDD",
                        "secret_token": "secret-token-1", "receive": "webhook"}),
            ),
            MANAGERS,
        ),
        route(
            Method::PUT,
            format!("/api/v1/channels/{c}/attribute-keys"),
            Some(json!({"keys": ["budget"]})),
            MANAGERS,
        ),
        route(
            Method::GET,
            format!("/api/v1/channels/{c}/automations"),
            None,
            MANAGERS,
        ),
        route(
            Method::PUT,
            format!("/api/v1/channels/{c}/automations"),
            Some(json!({})),
            MANAGERS,
        ),
        route(
            Method::GET,
            format!("/api/v1/channels/{c}/flows"),
            None,
            MANAGERS,
        ),
        route(
            Method::PUT,
            format!("/api/v1/channels/{c}/flows"),
            Some(json!([])),
            MANAGERS,
        ),
        route(
            Method::GET,
            format!("/api/v1/channels/{c}/rules"),
            None,
            MANAGERS,
        ),
        route(
            Method::PUT,
            format!("/api/v1/channels/{c}/rules"),
            Some(json!([])),
            MANAGERS,
        ),
        route(
            Method::GET,
            format!("/api/v1/channels/{c}/faq"),
            None,
            MANAGERS,
        ),
        route(
            Method::PUT,
            format!("/api/v1/channels/{c}/faq"),
            Some(json!([])),
            MANAGERS,
        ),
        route(
            Method::GET,
            format!("/api/v1/conversations?channel_id={c}"),
            None,
            INBOX,
        ),
        route(
            Method::GET,
            format!("/api/v1/conversations/{conversation}/messages"),
            None,
            INBOX,
        ),
        route(
            Method::POST,
            format!("/api/v1/conversations/{conversation}/messages"),
            Some(json!({"text": "We are on it."})),
            INBOX,
        ),
        route(
            Method::PUT,
            format!("/api/v1/conversations/{conversation}/status"),
            Some(json!({"status": "open"})),
            INBOX,
        ),
        route(Method::GET, "/api/v1/conversations".into(), None, INBOX),
        route(
            Method::GET,
            format!("/api/v1/contacts/{contact}/export"),
            None,
            MANAGERS,
        ),
        route(Method::GET, "/api/v1/search?q=ciao".into(), None, ALL),
        route(
            Method::GET,
            format!("/api/v1/conversations/{conversation}/scheduled-messages"),
            None,
            INBOX,
        ),
        route(
            Method::GET,
            format!("/api/v1/scheduled-messages/{scheduled}"),
            None,
            INBOX,
        ),
        route(
            Method::DELETE,
            format!("/api/v1/scheduled-messages/{scheduled}"),
            None,
            INBOX,
        ),
        route(
            Method::GET,
            format!("/api/v1/reports/responsiveness?channel_id={c}"),
            None,
            CONTACT_MANAGERS,
        ),
        route(
            Method::POST,
            format!("/api/v1/conversations/{conversation}/assign"),
            Some(json!({"user_id": null})),
            INBOX,
        ),
        route(
            Method::PUT,
            format!("/api/v1/conversations/{conversation}/tags"),
            Some(json!({"tags": ["vip"]})),
            INBOX,
        ),
        route(
            Method::GET,
            format!("/api/v1/conversations/{conversation}/notes"),
            None,
            INBOX,
        ),
        route(
            Method::POST,
            format!("/api/v1/conversations/{conversation}/notes"),
            Some(json!({"text": "checked the order"})),
            INBOX,
        ),
        route(
            Method::POST,
            format!("/api/v1/conversations/{conversation}/snooze"),
            Some(json!({"until": "2099-01-01T09:00:00Z"})),
            INBOX,
        ),
        route(
            Method::POST,
            format!("/api/v1/conversations/{conversation}/read"),
            None,
            INBOX,
        ),
        route(
            Method::POST,
            format!("/api/v1/conversations/{conversation}/typing"),
            None,
            INBOX,
        ),
        route(
            Method::GET,
            format!("/api/v1/contacts?channel_id={c}"),
            None,
            ALL,
        ),
        route(
            Method::GET,
            format!("/api/v1/contacts/{contact}"),
            None,
            ALL,
        ),
        route(
            Method::PUT,
            format!("/api/v1/contacts/{contact}/subscription"),
            Some(json!({"subscribed": true})),
            CONTACT_MANAGERS,
        ),
        route(
            Method::PATCH,
            format!("/api/v1/contacts/{contact}/attributes"),
            Some(json!({})),
            ALL,
        ),
        route(
            Method::POST,
            "/api/v1/lint".into(),
            Some(json!({"text": "Hello", "channel": "telegram"})),
            ALL,
        ),
        route(Method::GET, "/api/v1/media/999999".into(), None, ALL),
        // Last: it erases the contact the routes above use.
        route(
            Method::DELETE,
            format!("/api/v1/contacts/{contact}"),
            None,
            MANAGERS,
        ),
    ];

    let mut wrong = Vec::new();
    for r in &routes {
        // No credentials: 401, whoever would have been allowed.
        let mut anonymous = app
            .http
            .request(r.method.clone(), format!("{}{}", app.base, r.path));
        if let Some(body) = &r.body {
            anonymous = anonymous.json(body);
        }
        let status = anonymous.send().await.expect("request").status().as_u16();
        if status != 401 {
            wrong.push(format!(
                "{} {} without credentials: {status}",
                r.method, r.path
            ));
        }
        // A forged CSRF token on a state change: 403 even for the owner.
        if r.method != Method::GET {
            let (status, _) = app
                .as_person(
                    &people[0].1,
                    r.method.clone(),
                    &r.path,
                    r.body.clone(),
                    Some("forged"),
                )
                .await;
            if status != 403 {
                wrong.push(format!(
                    "{} {} with a wrong CSRF token: {status}",
                    r.method, r.path
                ));
            }
        }
        for (role, person) in &people {
            let (status, body) = app
                .as_person(person, r.method.clone(), &r.path, r.body.clone(), None)
                .await;
            let allowed = r.allowed.contains(role);
            let ok = if allowed {
                !matches!(status, 401 | 403) && status < 500
            } else {
                status == 403
            };
            if !ok {
                wrong.push(format!(
                    "{} {} as {role}: {status} (expected {}) {body}",
                    r.method,
                    r.path,
                    if allowed { "allowed" } else { "403" }
                ));
            }
        }
    }
    upload_is_open_to_every_role_and_closed_without_credentials(&app, &people, &mut wrong).await;
    // The event stream never ends: only its status is read.
    for (role, person) in &people {
        let status = app
            .http
            .get(format!("{}/api/v1/events", app.base))
            .header("cookie", format!("sb_session={}", person.cookie))
            .send()
            .await
            .expect("events")
            .status()
            .as_u16();
        let expected = if INBOX.contains(role) { 200 } else { 403 };
        if status != expected {
            wrong.push(format!(
                "GET /api/v1/events as {role}: {status} (expected {expected})"
            ));
        }
    }
    let status = app
        .http
        .get(format!("{}/api/v1/events", app.base))
        .send()
        .await
        .expect("events")
        .status()
        .as_u16();
    if status != 401 {
        wrong.push(format!("GET /api/v1/events without credentials: {status}"));
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    app.stop().await;
}

/// `POST /api/v1/media` takes raw bytes, not JSON.
async fn upload_is_open_to_every_role_and_closed_without_credentials(
    app: &TestApp,
    people: &[(&str, common::Person)],
    wrong: &mut Vec<String>,
) {
    let url = format!("{}/api/v1/media?kind=file&filename=menu.txt", app.base);
    let upload = || {
        app.http
            .post(&url)
            .header("content-type", "text/plain")
            .body("today's menu")
    };
    let status = upload().send().await.expect("upload").status().as_u16();
    if status != 401 {
        wrong.push(format!("POST /api/v1/media without credentials: {status}"));
    }
    for (role, person) in people {
        let status = upload()
            .header("cookie", format!("sb_session={}", person.cookie))
            .header("x-csrf-token", &person.csrf)
            .send()
            .await
            .expect("upload")
            .status()
            .as_u16();
        if status != 201 {
            wrong.push(format!("POST /api/v1/media as {role}: {status}"));
        }
    }
}
