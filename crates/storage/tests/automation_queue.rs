//! The automation queue on SQLite and PostgreSQL: events a person caused wait for their
//! automatic answer, are claimed in order per person, and a batch of decisions is applied in
//! one transaction where each decision stands or falls on its own.

use std::collections::BTreeMap;

use switchboard_domain::{
    AuthorKind, ChannelId, ContactRef, Content, InboundEnvelope, InboundEvent, Millis, Psid,
};
use switchboard_storage::testing::{TestDatabase, fixtures};
use switchboard_storage::{
    Applied, AutomationChanges, AutomationJob, IngestItem, Lane, OutgoingDraft, OutgoingItem,
    Store, on_both_backends,
};

on_both_backends!(
    one_persons_events_are_claimed_one_at_a_time_in_order,
    a_batch_applies_each_decision_on_its_own,
    facts_for_a_whole_batch_are_read_at_once,
);

async fn page(store: &Store) -> ChannelId {
    fixtures::messenger_page(store, "100").await
}

async fn writes(store: &Store, channel: ChannelId, psid: &str, mid: &str, text: &str) {
    let envelope = InboundEnvelope {
        dedupe_key: format!("mid:{mid}"),
        contact: Some(ContactRef::id_only(Psid::parse(psid).unwrap().into())),
        occurred_at: Millis::now(),
        standby: false,
        event: InboundEvent::Message {
            platform_message_id: mid.into(),
            content: Content {
                text: Some(text.into()),
                ..Content::default()
            },
            referral: None,
        },
    };
    store
        .ingest(&[IngestItem {
            channel_id: channel,
            envelope,
            replies: vec![],
        }])
        .await
        .expect("ingest");
}

async fn claim(store: &Store, worker: &str) -> Vec<AutomationJob> {
    let now = Millis::now();
    store
        .claim_automation(worker, now, now.plus_millis(30_000), 64)
        .await
        .expect("claim")
}

fn text_of(job: &AutomationJob) -> String {
    match &job.event {
        InboundEvent::Message { content, .. } => content.text.clone().unwrap_or_default(),
        other => panic!("not a message: {other:?}"),
    }
}

fn answer(conversation: switchboard_domain::ConversationId, text: &str) -> OutgoingItem {
    OutgoingItem {
        conversation_id: conversation,
        draft: OutgoingDraft {
            content: Content {
                text: Some(text.into()),
                ..Content::default()
            },
            author: AuthorKind::Automation,
            lane: Lane::Reply,
            messaging_type: Some("RESPONSE".into()),
        },
    }
}

async fn one_persons_events_are_claimed_one_at_a_time_in_order(db: TestDatabase) {
    let store = db.open().await;
    let ch = page(&store).await;
    writes(&store, ch, "7", "m_1", "first").await;
    writes(&store, ch, "7", "m_2", "second").await;
    writes(&store, ch, "8", "m_3", "other person").await;

    let jobs = claim(&store, "w1").await;
    let texts: Vec<String> = jobs.iter().map(text_of).collect();
    assert_eq!(texts, ["first", "other person"], "one event per person");
    assert!(jobs[0].first_event_of_contact);
    // Another worker finds nothing: 7's second event waits for the first to be decided.
    assert!(claim(&store, "w2").await.is_empty());

    let people: Vec<_> = jobs.iter().map(|j| (j.channel_id, j.contact_id)).collect();
    let contexts = store.automation_contexts(&people, Millis(0)).await.unwrap();
    let decisions: Vec<_> = jobs
        .iter()
        .map(|j| {
            (
                j,
                contexts[&j.contact_id].subject.clone(),
                AutomationChanges {
                    state: "{}".into(),
                    ..AutomationChanges::default()
                },
            )
        })
        .collect();
    let batch: Vec<_> = decisions.iter().map(|(j, s, c)| (*j, s, c)).collect();
    let applied = store.apply_automations("w1", &batch).await.unwrap();
    assert!(applied.iter().all(|a| matches!(a, Applied::Done { .. })));

    let next = claim(&store, "w2").await;
    assert_eq!(next.iter().map(text_of).collect::<Vec<_>>(), ["second"]);
    assert!(!next[0].first_event_of_contact);
    assert_eq!(store.count_open_automation().await.unwrap(), 1);
}

async fn a_batch_applies_each_decision_on_its_own(db: TestDatabase) {
    let store = db.open().await;
    let ch = page(&store).await;
    for (psid, mid) in [("7", "m_1"), ("8", "m_2"), ("9", "m_3")] {
        writes(&store, ch, psid, mid, "hello").await;
    }
    let jobs = claim(&store, "w1").await;
    assert_eq!(jobs.len(), 3);
    let people: Vec<_> = jobs.iter().map(|j| (j.channel_id, j.contact_id)).collect();
    let contexts = store.automation_contexts(&people, Millis(0)).await.unwrap();
    let subject = |i: usize| contexts[&jobs[i].contact_id].subject.clone();

    // 7: answered twice (in order), tagged, an attribute captured, handed over to a human.
    let seven = AutomationChanges {
        state: r#"{"step":1}"#.into(),
        status: Some("waiting".into()),
        waiting_since: Some(Millis(5_000)),
        add_tags: vec!["vip".into()],
        set_attributes: BTreeMap::from([("budget".into(), "40".into())]),
        messages: vec![
            answer(subject(0).conversation_id, "one"),
            answer(subject(0).conversation_id, "two"),
        ],
        ..AutomationChanges::default()
    };
    // 8: someone else changed the conversation after the decision read it.
    let eight = AutomationChanges {
        state: r#"{"step":9}"#.into(),
        messages: vec![answer(subject(1).conversation_id, "stale")],
        ..AutomationChanges::default()
    };
    assert!(
        store
            .set_conversation_automation(
                subject(1).conversation_id,
                &subject(1).state,
                r#"{"other":true}"#,
                "open"
            )
            .await
            .unwrap()
    );
    // 9: unsubscribes, and gets its goodbye.
    let nine = AutomationChanges {
        state: "{}".into(),
        subscribed: Some(false),
        messages: vec![answer(subject(2).conversation_id, "bye")],
        ..AutomationChanges::default()
    };
    let subjects = [subject(0), subject(1), subject(2)];
    let batch = vec![
        (&jobs[0], &subjects[0], &seven),
        (&jobs[1], &subjects[1], &eight),
        (&jobs[2], &subjects[2], &nine),
    ];
    let applied = store.apply_automations("w1", &batch).await.unwrap();

    let Applied::Done { queued } = &applied[0] else {
        panic!("7 applied: {applied:?}")
    };
    assert_eq!(queued.len(), 2);
    assert!(
        queued[0] < queued[1],
        "a decision's messages keep their order"
    );
    assert_eq!(applied[1], Applied::Conflict);
    assert!(matches!(&applied[2], Applied::Done { queued } if queued.len() == 1));

    let texts = |conversation| {
        let store = store.clone();
        async move {
            store
                .list_messages(conversation)
                .await
                .unwrap()
                .iter()
                .filter(|m| m.author_kind == AuthorKind::Automation)
                .map(|m| m.text.clone().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(texts(subjects[0].conversation_id).await, ["one", "two"]);
    assert!(
        texts(subjects[1].conversation_id).await.is_empty(),
        "the conflict wrote nothing"
    );
    assert_eq!(texts(subjects[2].conversation_id).await, ["bye"]);

    let seven_now = store
        .get_conversation(subjects[0].conversation_id)
        .await
        .unwrap();
    assert_eq!(
        (
            seven_now.status.as_str(),
            seven_now.waiting_since,
            seven_now.automation_state.as_str()
        ),
        ("waiting", Some(Millis(5_000)), r#"{"step":1}"#)
    );
    let seven_contact = store.get_contact(jobs[0].contact_id).await.unwrap();
    assert_eq!(seven_contact.attributes["budget"], "40");
    assert!(
        store
            .contact_tags(jobs[0].contact_id)
            .await
            .unwrap()
            .contains("vip")
    );
    assert!(
        !store
            .get_contact(jobs[2].contact_id)
            .await
            .unwrap()
            .subscribed
    );

    // The conflicted event is pending again, to be decided on the new state; the others are done.
    let again = claim(&store, "w2").await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].event_id, jobs[1].event_id);
    // A claim that is no longer ours (taken over after its lease) writes nothing either.
    let stale = store
        .apply_automations("w1", &[(&again[0], &subjects[1], &eight)])
        .await
        .unwrap();
    assert_eq!(stale, [Applied::Conflict]);
}

async fn facts_for_a_whole_batch_are_read_at_once(db: TestDatabase) {
    let store = db.open().await;
    let ch = page(&store).await;
    writes(&store, ch, "7", "m_1", "hello").await;
    writes(&store, ch, "8", "m_2", "hi").await;
    let jobs = claim(&store, "w1").await;
    let seven = jobs[0].contact_id;
    let people: Vec<_> = jobs.iter().map(|j| (j.channel_id, j.contact_id)).collect();
    let contexts = store.automation_contexts(&people, Millis(0)).await.unwrap();
    assert_eq!(contexts.len(), 2);
    let one = &contexts[&seven];
    assert_eq!(one.send.contact.external_id, "7");
    assert!(one.send.last_inbound_at.is_some());
    assert!(one.send.recent_bulk.is_empty());
    assert_eq!(one.subject.conversation_id, one.send.conversation.id);
    assert_eq!(one.subject.state, "{}");
    // The same facts as the one-conversation read the send API uses.
    let single = store
        .send_context(one.send.conversation.id, Millis(0))
        .await
        .unwrap();
    assert_eq!(single.contact, one.send.contact);
    assert_eq!(single.last_inbound_at, one.send.last_inbound_at);
    // A bulk message queued to 7 counts for the frequency cap, and only for 7.
    store
        .enqueue(&[OutgoingItem {
            draft: OutgoingDraft {
                lane: Lane::Bulk,
                ..answer(one.send.conversation.id, "sale").draft
            },
            conversation_id: one.send.conversation.id,
        }])
        .await
        .unwrap();
    let contexts = store.automation_contexts(&people, Millis(0)).await.unwrap();
    assert_eq!(contexts[&seven].send.recent_bulk.len(), 1);
    assert!(contexts[&jobs[1].contact_id].send.recent_bulk.is_empty());
}

/// The automation worker and webhook ingest lock the same conversations in different orders, so
/// on PostgreSQL one of them can lose a deadlock; both run the rolled-back transaction again,
/// which rests on telling that error apart from a database that is really down. (SQLite has a
/// single writer and cannot deadlock, hence PostgreSQL only.)
#[tokio::test]
async fn a_postgres_deadlock_is_told_apart_as_worth_running_again() {
    let Some(db) = TestDatabase::postgres().await else {
        eprintln!("SKIPPED (PostgreSQL): set SWITCHBOARD_TEST_POSTGRES_URL");
        return;
    };
    let store = db.open().await;
    let ch = page(&store).await;
    writes(&store, ch, "7", "m_1", "a").await;
    writes(&store, ch, "8", "m_2", "b").await;
    let ids: Vec<i64> = claim(&store, "w")
        .await
        .iter()
        .map(|j| j.event_id)
        .collect();
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(&db.url)
        .await
        .unwrap();
    let (mut one, mut two) = (pool.begin().await.unwrap(), pool.begin().await.unwrap());
    let lock = "UPDATE events SET received_at = received_at WHERE id = $1";
    sqlx::query(lock)
        .bind(ids[0])
        .execute(&mut *one)
        .await
        .unwrap();
    sqlx::query(lock)
        .bind(ids[1])
        .execute(&mut *two)
        .await
        .unwrap();
    // Each now waits for the row the other holds: PostgreSQL aborts one of them.
    let (a, b) = tokio::join!(
        sqlx::query(lock).bind(ids[1]).execute(&mut *one),
        sqlx::query(lock).bind(ids[0]).execute(&mut *two),
    );
    let lost = match (a, b) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => switchboard_storage::StoreError::from(e),
        other => panic!("expected exactly one deadlock victim: {other:?}"),
    };
    assert!(lost.is_retryable_conflict(), "{lost:?}");
    drop((one, two));
    pool.close().await;
    // A database that does not answer is not a conflict to retry at once.
    let down = switchboard_storage::StoreError::from(sqlx::Error::PoolTimedOut);
    assert!(!down.is_retryable_conflict());
}
