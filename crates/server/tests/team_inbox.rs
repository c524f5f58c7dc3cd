//! The team inbox as support people use it: the list and its filters, taking and giving
//! conversations, private notes with mentions, snoozes, tags, unread counts, the window each
//! conversation is in, and "Seen" only when someone is ready to answer.

mod common;

use std::time::Duration;

use common::{Person, TestApp, spawn_app, wait_for};
use reqwest::Method;
use serde_json::{Value, json};
use switchboard_emulator::{Platform, TelegramUser};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

on_both_backends!(
    an_agent_takes_a_conversation_and_a_supervisor_hands_one_on,
    a_note_mentions_a_colleague_and_never_reaches_the_customer,
    seen_reaches_the_customer_only_when_the_agent_opens_the_thread,
    a_snoozed_conversation_wakes_when_the_customer_writes,
    the_list_filters_by_tag_and_pages_with_a_cursor,
    each_line_shows_the_window_its_channel_allows,
    the_response_rate_counts_people_not_automatic_answers,
    a_message_sent_later_goes_out_once_when_due_and_can_be_cancelled,
    a_message_sent_later_is_not_sent_when_the_window_closed_meanwhile,
    the_event_stream_shows_each_agent_their_teams_news_and_their_mentions,
    search_finds_words_in_five_languages_within_what_each_person_may_see,
    a_person_is_exported_and_then_erased_leaving_only_counts,
);

const PAGE: &str = "5550001";

/// A shop's Messenger page with `n` customers who wrote, a team for it, and an agent in it.
struct Shop {
    app: TestApp,
    page: common::Channel,
    team: i64,
    conversations: Vec<i64>,
}

async fn shop(db: TestDatabase, customers: usize) -> Shop {
    let app = spawn_app(db).await;
    let page = app.connect_page(PAGE).await;
    for i in 0..customers {
        app.emulator
            .messenger_user_sends_text(PAGE, &format!("2400000000099{i:02}"), "hello")
            .await;
    }
    let path = format!("/api/v1/conversations?channel_id={}", page.id);
    let conversations = wait_for(|| async {
        let (_, list) = app.get_api(&path).await;
        let ids: Vec<i64> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_i64())
            .collect();
        (ids.len() == customers).then_some(ids)
    })
    .await;
    let (status, team) = app
        .post_api(
            "/api/v1/teams",
            json!({"name": "Support", "channel_ids": [page.id]}),
        )
        .await;
    assert_eq!(status, 201, "{team}");
    Shop {
        team: team["id"].as_i64().unwrap(),
        app,
        page,
        conversations,
    }
}

async fn call(
    app: &TestApp,
    who: &Person,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    app.as_person(who, method, path, body, None).await
}

async fn an_agent_takes_a_conversation_and_a_supervisor_hands_one_on(db: TestDatabase) {
    let Shop {
        app,
        team,
        conversations,
        ..
    } = shop(db, 2).await;
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let bo = app.person("agent", "bo@example.com", &[team]).await;
    let sue = app.person("supervisor", "sue@example.com", &[]).await;
    let outsider = app.person("agent", "out@example.com", &[]).await;
    let (first, second) = (conversations[0], conversations[1]);

    // Ana takes the first herself.
    let (status, line) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{first}/assign"),
        Some(json!({"user_id": ana.id})),
    )
    .await;
    assert_eq!(status, 200, "{line}");
    assert_eq!(line["assignee_id"], ana.id);
    // She may not give the second to Bo, nor take the first from herself for Bo: that is a
    // supervisor's call.
    let (status, _) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{second}/assign"),
        Some(json!({"user_id": bo.id})),
    )
    .await;
    assert_eq!(status, 403);
    // Sue hands the second to Bo; not to someone outside the team.
    let (status, body) = call(
        &app,
        &sue,
        Method::POST,
        &format!("/api/v1/conversations/{second}/assign"),
        Some(json!({"user_id": outsider.id})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = call(
        &app,
        &sue,
        Method::POST,
        &format!("/api/v1/conversations/{second}/assign"),
        Some(json!({"user_id": bo.id})),
    )
    .await;
    assert_eq!(status, 200);

    // "Mine" and "unassigned" are what they say.
    let (_, mine) = call(
        &app,
        &ana,
        Method::GET,
        "/api/v1/conversations?assignee=me",
        None,
    )
    .await;
    let ids: Vec<&Value> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, vec![&json!(first)]);
    let (_, nobody) = call(
        &app,
        &sue,
        Method::GET,
        "/api/v1/conversations?assignee=none",
        None,
    )
    .await;
    assert!(nobody["items"].as_array().unwrap().is_empty(), "{nobody}");
    // Ana lets hers go.
    let (status, line) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{first}/assign"),
        Some(json!({"user_id": null})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(line["assignee_id"], Value::Null);
    // The audit log has the hand-on.
    let (_, log) = app.get_api("/api/v1/audit").await;
    assert!(log["items"].as_array().unwrap().iter().any(|e| e["action"]
        == "conversation.assigned"
        && e["actor"] == format!("user:{}", sue.id)));
    app.stop().await;
}

async fn a_note_mentions_a_colleague_and_never_reaches_the_customer(db: TestDatabase) {
    let Shop {
        app,
        page,
        team,
        conversations,
    } = shop(db, 1).await;
    // The default reply has gone out: from here on, nothing may.
    app.settled_messages(&page, "240000000009900").await;
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let bo = app.person("agent", "bo@example.com", &[team]).await;
    let marketer = app.person("marketer", "mia@example.com", &[]).await;
    let conversation = conversations[0];
    let sent_before = app.sends(Platform::Messenger).len();

    let (status, note) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/notes"),
        Some(json!({"text": "@bo this one asked for a refund last week; @mia cannot see it"})),
    )
    .await;
    assert_eq!(status, 201, "{note}");
    assert_eq!(
        note["mentions"],
        json!([bo.id]),
        "only people who can read the thread are mentioned"
    );
    assert_eq!(note["author_id"], ana.id);

    let (status, notes) = call(
        &app,
        &bo,
        Method::GET,
        &format!("/api/v1/conversations/{conversation}/notes"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(notes["items"][0]["text"], note["text"]);
    // Marketers never read conversation text, notes included.
    let (status, _) = call(
        &app,
        &marketer,
        Method::GET,
        &format!("/api/v1/conversations/{conversation}/notes"),
        None,
    )
    .await;
    assert_eq!(status, 403);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.sends(Platform::Messenger).len(),
        sent_before,
        "a note is never sent"
    );
    let (_, thread) = app
        .get_api(&format!("/api/v1/conversations/{conversation}/messages"))
        .await;
    assert!(
        !thread.to_string().contains("refund"),
        "a note is not a message: {thread}"
    );
    app.stop().await;
}

fn sender_actions(app: &TestApp, action: &str) -> usize {
    app.emulator
        .calls_matching(Platform::Messenger, "messages")
        .iter()
        .filter(|c| c.request["sender_action"] == action)
        .count()
}

async fn seen_reaches_the_customer_only_when_the_agent_opens_the_thread(db: TestDatabase) {
    let Shop {
        app,
        page,
        team,
        conversations,
    } = shop(db, 1).await;
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let conversation = conversations[0];
    app.settled_messages(&page, "240000000009900").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sender_actions(&app, "mark_seen"), 0, "never on receipt");

    let (_, list) = call(&app, &ana, Method::GET, "/api/v1/conversations", None).await;
    assert_eq!(list["items"][0]["unread"], 1, "{list}");
    let (status, _) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/read"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(sender_actions(&app, "mark_seen"), 1);
    let (_, list) = call(
        &app,
        &ana,
        Method::GET,
        "/api/v1/conversations?unread=true",
        None,
    )
    .await;
    assert!(
        list["items"].as_array().unwrap().is_empty(),
        "read now: {list}"
    );

    let (status, _) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/typing"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(sender_actions(&app, "typing_on"), 1);
    app.stop().await;
}

async fn a_snoozed_conversation_wakes_when_the_customer_writes(db: TestDatabase) {
    let Shop {
        app,
        team,
        conversations,
        ..
    } = shop(db, 1).await;
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let conversation = conversations[0];
    let tomorrow = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(20);
    let (status, line) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/snooze"),
        Some(json!({"until": tomorrow.to_string()})),
    )
    .await;
    assert_eq!(status, 200, "{line}");
    assert_eq!(line["status"], "snoozed");
    let (status, _) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/snooze"),
        Some(json!({"until": "2020-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, 422, "a snooze ends in the future");
    let (_, open) = call(
        &app,
        &ana,
        Method::GET,
        "/api/v1/conversations?status=open",
        None,
    )
    .await;
    assert!(open["items"].as_array().unwrap().is_empty(), "{open}");
    let (_, snoozed) = call(
        &app,
        &ana,
        Method::GET,
        "/api/v1/conversations?status=snoozed",
        None,
    )
    .await;
    assert_eq!(snoozed["items"][0]["id"], conversation);

    app.emulator
        .messenger_user_sends_text(PAGE, "240000000009900", "are you there?")
        .await;
    let open = wait_for(|| async {
        let (_, open) = call(
            &app,
            &ana,
            Method::GET,
            "/api/v1/conversations?status=open",
            None,
        )
        .await;
        (open["items"].as_array().map_or(0, Vec::len) == 1).then_some(open)
    })
    .await;
    assert_eq!(open["items"][0]["snoozed_until"], Value::Null);
    app.stop().await;
}

async fn the_list_filters_by_tag_and_pages_with_a_cursor(db: TestDatabase) {
    let Shop {
        app,
        team,
        conversations,
        ..
    } = shop(db, 3).await;
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let (status, body) = call(
        &app,
        &ana,
        Method::PUT,
        &format!("/api/v1/conversations/{}/tags", conversations[1]),
        Some(json!({"tags": ["Refund", "refund ", "vip"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tags"], json!(["refund", "vip"]));
    let (_, tagged) = call(
        &app,
        &ana,
        Method::GET,
        "/api/v1/conversations?tag=refund",
        None,
    )
    .await;
    let items = tagged["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], conversations[1]);
    assert_eq!(items[0]["tags"], json!(["refund", "vip"]));

    // Two per page: every conversation exactly once, newest activity first.
    let (_, first) = call(
        &app,
        &ana,
        Method::GET,
        "/api/v1/conversations?limit=2",
        None,
    )
    .await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let (_, second) = call(
        &app,
        &ana,
        Method::GET,
        &format!("/api/v1/conversations?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["next_cursor"], Value::Null);
    let mut seen: Vec<i64> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    let activity: Vec<i64> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|c| c["last_activity_at"].as_i64().unwrap())
        .collect();
    assert!(activity.windows(2).all(|w| w[0] >= w[1]), "{activity:?}");
    seen.sort();
    let mut all = conversations.clone();
    all.sort();
    assert_eq!(seen, all);
    let (status, _) = call(
        &app,
        &ana,
        Method::GET,
        "/api/v1/conversations?cursor=garbage",
        None,
    )
    .await;
    assert_eq!(status, 422);
    app.stop().await;
}

async fn each_line_shows_the_window_its_channel_allows(db: TestDatabase) {
    let Shop {
        app,
        page,
        conversations,
        ..
    } = shop(db, 1).await;
    let (_, bot_conversation) = app
        .bot_with_a_person_who_wrote("777:TTT", TelegramUser::new(901, "Tia"), "hi")
        .await;
    let (_, list) = app.get_api("/api/v1/conversations").await;
    let line = |id: i64| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap()
    };
    let messenger = line(conversations[0]);
    assert_eq!(messenger["window"]["state"], "open", "{messenger}");
    let contact = app
        .get_api(&format!("/api/v1/contacts/{}", messenger["contact_id"]))
        .await
        .1;
    let opened = contact["last_window_action_at"].as_i64().unwrap();
    assert_eq!(messenger["window"]["until"], opened + 24 * 3_600_000);
    assert_eq!(messenger["channel_id"], page.id);
    assert_eq!(line(bot_conversation)["window"]["state"], "unlimited");
    app.stop().await;
}

async fn the_response_rate_counts_people_not_automatic_answers(db: TestDatabase) {
    let Shop {
        app,
        page,
        team,
        conversations,
    } = shop(db, 1).await;
    app.settled_messages(&page, "240000000009900").await;
    let sue = app.person("supervisor", "sue@example.com", &[team]).await;
    let report = format!("/api/v1/reports/responsiveness?channel_id={}", page.id);
    // The default reply went out at once, but an automatic answer is not a response.
    let (status, before) = call(&app, &sue, Method::GET, &report, None).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["counted"], 1);
    assert_eq!(before["response_rate"], 0.0);
    assert_eq!(before["badge"], false);

    let (status, _) = call(
        &app,
        &sue,
        Method::POST,
        &format!("/api/v1/conversations/{}/messages", conversations[0]),
        Some(json!({"text": "Hi! Looking into it now."})),
    )
    .await;
    assert_eq!(status, 201);
    app.settled_messages(&page, "240000000009900").await;
    let (_, after) = call(&app, &sue, Method::GET, &report, None).await;
    assert_eq!(after["response_rate"], 1.0, "{after}");
    assert!(
        after["response_time_secs"].as_f64().unwrap() < 60.0,
        "{after}"
    );
    assert_eq!(after["badge"], true);
    app.stop().await;
}

async fn customer_conversation(app: &TestApp, page: &common::Channel) -> (i64, i64) {
    let (_, list) = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", page.id))
        .await;
    (
        list["items"][0]["id"].as_i64().unwrap(),
        list["items"][0]["contact_id"].as_i64().unwrap(),
    )
}

fn texts_received(app: &TestApp, text: &str) -> usize {
    app.sends(Platform::Messenger)
        .iter()
        .filter(|c| c.request["message"]["text"] == text)
        .count()
}

async fn scheduled_status(app: &TestApp, who: &Person, id: i64, want: &str) -> Value {
    wait_for(|| async {
        let (_, body) = call(
            app,
            who,
            Method::GET,
            &format!("/api/v1/scheduled-messages/{id}"),
            None,
        )
        .await;
        (body["scheduled_message"]["status"] == want).then_some(body["scheduled_message"].clone())
    })
    .await
}

async fn a_message_sent_later_goes_out_once_when_due_and_can_be_cancelled(db: TestDatabase) {
    let Shop {
        app, page, team, ..
    } = shop(db, 1).await;
    app.settled_messages(&page, "240000000009900").await;
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let (conversation, _) = customer_conversation(&app, &page).await;
    let soon = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(2)).to_string();
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let (status, body) = call(
        &app,
        &ana,
        Method::POST,
        &path,
        Some(json!({"text": "Your parcel left this morning.", "send_at": soon})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let first = body["scheduled_message"]["id"].as_i64().unwrap();
    assert_eq!(body["scheduled_message"]["status"], "scheduled");
    let (_, body) = call(
        &app,
        &ana,
        Method::POST,
        &path,
        Some(json!({"text": "Never mind this one.", "send_at": soon})),
    )
    .await;
    let second = body["scheduled_message"]["id"].as_i64().unwrap();
    let (status, _) = call(
        &app,
        &ana,
        Method::DELETE,
        &format!("/api/v1/scheduled-messages/{second}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        texts_received(&app, "Your parcel left this morning."),
        0,
        "not before its time"
    );

    let sent = scheduled_status(&app, &ana, first, "sent").await;
    assert_eq!(sent["message_ids"].as_array().unwrap().len(), 1);
    app.settled_messages(&page, "240000000009900").await;
    assert_eq!(texts_received(&app, "Your parcel left this morning."), 1);
    assert_eq!(texts_received(&app, "Never mind this one."), 0);
    let (_, cancelled) = call(
        &app,
        &ana,
        Method::GET,
        &format!("/api/v1/scheduled-messages/{second}"),
        None,
    )
    .await;
    assert_eq!(cancelled["scheduled_message"]["status"], "cancelled");
    let (status, _) = call(
        &app,
        &ana,
        Method::DELETE,
        &format!("/api/v1/scheduled-messages/{first}"),
        None,
    )
    .await;
    assert_eq!(status, 409, "too late to cancel a sent message");
    let (status, body) = call(
        &app,
        &ana,
        Method::POST,
        &path,
        Some(json!({"text": "x", "send_at": "2020-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("send_at"))
    );
    app.stop().await;
}

async fn a_message_sent_later_is_not_sent_when_the_window_closed_meanwhile(db: TestDatabase) {
    let Shop {
        app, page, team, ..
    } = shop(db, 1).await;
    app.settled_messages(&page, "240000000009900").await;
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let (conversation, contact) = customer_conversation(&app, &page).await;
    let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3)).to_string();
    let (status, body) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(json!({"text": "Still interested in the blue one?", "send_at": later})),
    )
    .await;
    assert_eq!(status, 201, "allowed when queued: {body}");
    let id = body["scheduled_message"]["id"].as_i64().unwrap();

    // Ten days pass before it falls due: past the window and past the human-agent week.
    switchboard_storage::testing::age_contact(
        &app.server.store,
        switchboard_domain::ContactId(contact),
        10 * 24 * 3_600_000,
    )
    .await;
    let refused = scheduled_status(&app, &ana, id, "refused").await;
    assert!(!refused["rule"].as_str().unwrap().is_empty(), "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("meta-2026"),
        "the agent is told why: {refused}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(texts_received(&app, "Still interested in the blue one?"), 0);
    app.stop().await;
}

async fn the_event_stream_shows_each_agent_their_teams_news_and_their_mentions(db: TestDatabase) {
    let Shop {
        app,
        page,
        team,
        conversations,
    } = shop(db, 1).await;
    app.settled_messages(&page, "240000000009900").await;
    let conversation = conversations[0];
    // Another team's bot, whose customers Ana and Bo never see.
    let (_, elsewhere) = app
        .bot_with_a_person_who_wrote("888:OTHER", TelegramUser::new(9001, "Zed"), "hi")
        .await;
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let bo = app.person("agent", "bo@example.com", &[team]).await;
    let sue = app.person("supervisor", "sue@example.com", &[]).await;
    let mut ana_events = app.events(&ana, None).await;
    let mut bo_events = app.events(&bo, None).await;

    // The other bot's customer writes, then Ana's customer does, then Bo mentions Ana.
    app.emulator
        .telegram_user_sends_text("888:OTHER", TelegramUser::new(9001, "Zed"), "still there?")
        .await;
    app.emulator
        .messenger_user_sends_text(PAGE, "240000000009900", "where is my parcel?")
        .await;
    let (status, _) = call(
        &app,
        &bo,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/notes"),
        Some(json!({"text": "@ana you promised this one"})),
    )
    .await;
    assert_eq!(status, 201);

    let seen = ana_events
        .until(Duration::from_secs(10), |e| e.kind == "note.mentioned")
        .await;
    assert!(
        seen.iter().any(|e| e.kind == "message.created"
            && e.data["conversation_id"] == conversation
            && e.data["direction"] == "in"),
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|e| e.data["conversation_id"] != elsewhere),
        "another team's conversation leaked: {seen:?}"
    );
    let mention = seen.last().unwrap();
    assert_eq!(mention.data["conversation_id"], conversation);
    // Bo sees the customer's message but not a mention meant for Ana.
    let bo_seen = bo_events
        .until(Duration::from_secs(10), |e| {
            e.kind == "message.created" && e.data["direction"] == "in"
        })
        .await;
    assert!(bo_seen.iter().all(|e| e.kind != "note.mentioned"));
    assert!(
        bo_events
            .next(Duration::from_millis(700))
            .await
            .is_none_or(|e| e.kind != "note.mentioned")
    );

    // Ana goes offline; meanwhile Sue gives her the conversation. Back, she resumes from her
    // last event and misses nothing.
    let last = mention.id.clone();
    drop(ana_events);
    let (status, _) = call(
        &app,
        &sue,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/assign"),
        Some(json!({"user_id": ana.id})),
    )
    .await;
    assert_eq!(status, 200);
    let mut resumed = app.events(&ana, Some(&last)).await;
    let after = resumed
        .until(Duration::from_secs(10), |e| {
            e.kind == "conversation.assigned"
        })
        .await;
    assert_eq!(after.last().unwrap().data["assignee_id"], ana.id);
    assert!(
        after.iter().all(|e| e.kind != "note.mentioned"),
        "nothing twice: {after:?}"
    );

    // A marketer has no conversation stream at all.
    let mia = app.person("marketer", "mia@example.com", &[]).await;
    let res = app
        .http
        .get(format!("{}/api/v1/events", app.base))
        .header("cookie", format!("sb_session={}", mia.cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    drop(resumed);
    drop(bo_events);
    app.stop().await;
}

async fn search(app: &TestApp, who: &Person, q: &str) -> Vec<Value> {
    let (status, body) = call(
        app,
        who,
        Method::GET,
        &format!("/api/v1/search?q={}", urlencode(q)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().cloned().unwrap_or_default()
}

fn urlencode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn search_finds_words_in_five_languages_within_what_each_person_may_see(db: TestDatabase) {
    let Shop {
        app, page, team, ..
    } = shop(db, 1).await;
    let texts = [
        ("240000000009910", "Where is my parcel?"),
        ("240000000009911", "Il pacco è arrivato rotto"),
        ("240000000009912", "Paket saya belum sampai"),
        ("240000000009913", "Paketti on myöhässä"),
        ("240000000009914", "أين طلبي من فضلك"),
    ];
    for (psid, text) in texts {
        app.emulator
            .messenger_user_sends_text(PAGE, psid, text)
            .await;
    }
    let (_, elsewhere) = app
        .bot_with_a_person_who_wrote(
            "999:ELSE",
            TelegramUser::new(9100, "Zed"),
            "a parcel for another team",
        )
        .await;
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let sue = app.person("supervisor", "sue@example.com", &[]).await;
    let mia = app.person("marketer", "mia@example.com", &[]).await;
    let (_, list) = app
        .get_api(&format!("/api/v1/conversations?channel_id={}", page.id))
        .await;
    let first = list["items"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap();
    let (status, _) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{first}/notes"),
        Some(json!({"text": "parcel refund approved by the warehouse"})),
    )
    .await;
    assert_eq!(status, 201);

    // Indexing follows storage within a moment.
    let found = wait_for(|| async {
        let hits = search(&app, &sue, "parcel").await;
        (hits.len() >= 3).then_some(hits)
    })
    .await;
    assert!(
        found.iter().any(|h| h["conversation_id"] == elsewhere),
        "a supervisor sees every team: {found:?}"
    );
    assert!(found.iter().any(|h| h["kind"] == "note"), "{found:?}");

    let mine = search(&app, &ana, "parcel").await;
    assert!(!mine.is_empty());
    assert!(
        mine.iter().all(|h| h["conversation_id"] != elsewhere),
        "another team's customer leaked: {mine:?}"
    );
    for (word, expect) in [
        ("pacco", "Il pacco"),
        ("belum sampai", "belum sampai"),
        ("myöhässä", "myöhässä"),
        ("طلبي", "طلبي"),
    ] {
        let hits = search(&app, &ana, word).await;
        assert!(
            hits.iter()
                .any(|h| h["kind"] == "message" && h["snippet"].as_str().unwrap().contains(expect)),
            "{word}: {hits:?}"
        );
    }
    // Query syntax typed by a person stays literal.
    assert!(
        search(&app, &ana, "parcel\" OR *")
            .await
            .iter()
            .all(|h| h["conversation_id"] != elsewhere)
    );

    // Marketers find people, never conversation text.
    let theirs = search(&app, &mia, "parcel").await;
    assert!(theirs.iter().all(|h| h["kind"] == "contact"), "{theirs:?}");
    let zed = search(&app, &mia, "zed").await;
    assert!(zed.iter().any(|h| h["kind"] == "contact"), "{zed:?}");
    let (status, _) = call(&app, &ana, Method::GET, "/api/v1/search?q=", None).await;
    assert_eq!(status, 422);
    app.stop().await;
}

async fn a_person_is_exported_and_then_erased_leaving_only_counts(db: TestDatabase) {
    let Shop {
        app,
        page,
        team,
        conversations,
    } = shop(db, 1).await;
    let psid = "240000000009900";
    app.emulator
        .messenger_user_sends_text(PAGE, psid, "My address is Via Roma 12, Milano")
        .await;
    app.settled_messages(&page, psid).await;
    let conversation = conversations[0];
    let ana = app.person("agent", "ana@example.com", &[team]).await;
    let owner = app.person("owner", "olga@example.com", &[]).await;
    let (status, _) = call(
        &app,
        &ana,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/notes"),
        Some(json!({"text": "Via Roma delivery needs a call first"})),
    )
    .await;
    assert_eq!(status, 201);
    let contact = customer_conversation(&app, &page).await.1;
    wait_for(|| async { (!search(&app, &owner, "Roma").await.is_empty()).then_some(()) }).await;

    // Her data, as one document — for owners and admins only.
    let (status, _) = call(
        &app,
        &ana,
        Method::GET,
        &format!("/api/v1/contacts/{contact}/export"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, export) = call(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/contacts/{contact}/export"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{export}");
    assert!(export.to_string().contains("Via Roma 12"), "{export}");
    assert_eq!(
        export["notes"][0]["text"],
        "Via Roma delivery needs a call first"
    );
    let count = export["messages"].as_array().unwrap().len();

    // Erased: texts, notes and the index go; the counts stay.
    let (status, _) = call(
        &app,
        &ana,
        Method::DELETE,
        &format!("/api/v1/contacts/{contact}"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &app,
        &owner,
        Method::DELETE,
        &format!("/api/v1/contacts/{contact}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, messages) = app
        .get_api(&format!("/api/v1/conversations/{conversation}/messages"))
        .await;
    let messages = messages.as_array().unwrap();
    assert_eq!(messages.len(), count, "the rows reports count stay");
    assert!(messages.iter().all(|m| m["text"].is_null()), "{messages:?}");
    let (_, export) = call(
        &app,
        &owner,
        Method::GET,
        &format!("/api/v1/contacts/{contact}/export"),
        None,
    )
    .await;
    let text = export.to_string();
    assert!(!text.contains("Roma") && !text.contains(psid), "{text}");
    assert!(search(&app, &owner, "Roma").await.is_empty());
    let (_, log) = app.get_api("/api/v1/audit").await;
    assert!(log["items"].as_array().unwrap().iter().any(|e| e["action"] == "contact.erased"
        && e["target"] == format!("contact:{contact}")));
    assert!(!log.to_string().contains("Roma"));
    app.stop().await;
}
