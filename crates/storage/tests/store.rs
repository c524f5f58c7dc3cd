//! Storage behaviour, each test run on SQLite and on PostgreSQL.

use switchboard_domain::{
    AuthorKind, ChannelId, ContactRef, ExternalUserId, InboundEnvelope, InboundEvent,
    MessageStatus, Millis, Psid, Referral, SendErrorClass,
};
use switchboard_storage::testing::TestDatabase;
use switchboard_storage::testing::fixtures::{
    answer as reply, messenger_page as messenger_channel, text_from as text_message,
    with_answers as item,
};
use switchboard_storage::{
    ClaimToken, DispatchResult, IngestOutcome, Lane, NewChannel, OutgoingItem, Restart, Store,
    StoreError, on_both_backends,
};

fn person(psid: &str) -> ContactRef {
    ContactRef::id_only(Psid::parse(psid).unwrap().into())
}

/// Claims with a 30-second lease.
async fn claim(
    store: &Store,
    worker: &str,
    lane: Lane,
    now: Millis,
    limit: i64,
) -> Vec<switchboard_storage::OutboxJob> {
    store
        .claim_outbox(worker, lane, now, now.plus_millis(30_000), limit, &[])
        .await
        .expect("claim")
}

/// A process of `node` restarting as `process`; any process that heartbeat in the last 7 s is alive.
fn restart<'a>(node: &'a str, process: &'a str, now: Millis) -> Restart<'a> {
    Restart {
        node,
        process,
        alive_after: now.plus_millis(-7_000),
    }
}

on_both_backends!(
    migrations_are_idempotent_and_the_database_answers,
    connecting_the_same_page_twice_is_a_conflict,
    a_retried_event_is_stored_once_and_queues_one_reply,
    a_batch_is_stored_whole,
    receipts_move_statuses_forward_never_back,
    the_window_clock_only_moves_forward_and_marketing_optins_do_not_open_it,
    first_touch_source_is_kept_and_blocks_make_contacts_unreachable,
    claimed_rows_are_leased_and_results_recorded,
    a_dead_senders_rows_are_recovered_by_lane,
    a_restarted_node_reclaims_its_rows_at_once_but_live_claims_are_left_alone,
    one_batch_means_the_same_as_its_events_one_by_one,
    messages_queued_on_a_conversation_go_out_in_order_or_not_at_all,
    claimed_rows_whose_call_never_started_go_back_to_the_queue_on_both_lanes,
    rows_whose_call_started_become_unknown_on_both_lanes,
    a_restarted_nodes_rows_are_sorted_by_the_call_started_mark,
    only_a_live_claim_of_ones_own_can_be_marked_and_a_new_claim_clears_the_mark,
    periodic_recovery_leaves_a_live_nodes_started_calls_alone,
    a_large_group_is_marked_in_chunks,
);

async fn messages_queued_on_a_conversation_go_out_in_order_or_not_at_all(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    store
        .ingest(&[item(ch, text_message("7", "m_1", "hi", 1), vec![])])
        .await
        .unwrap();
    let conversation = store.list_conversations(ch).await.unwrap().remove(0).id;
    let out = |text: &str| OutgoingItem {
        conversation_id: conversation,
        draft: reply(text, Lane::Bulk),
    };
    let ids = store
        .enqueue(&[out("one"), out("two"), out("three")])
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    let jobs = claim(&store, "w", Lane::Bulk, Millis::now(), 10).await;
    let texts: Vec<_> = jobs
        .iter()
        .map(|j| j.content.text.clone().unwrap())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    assert_eq!(jobs[0].recipient.as_str(), "7");

    let missing = OutgoingItem {
        conversation_id: switchboard_domain::ConversationId(9_999),
        draft: reply("x", Lane::Bulk),
    };
    assert!(matches!(
        store.enqueue(&[out("four"), missing]).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.list_messages(conversation).await.unwrap().len(),
        4,
        "nothing of the failed batch was written"
    );
}

async fn one_batch_means_the_same_as_its_events_one_by_one(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    let named = |first: Option<&str>, last: Option<&str>| ContactRef {
        first_name: first.map(Into::into),
        last_name: last.map(Into::into),
        ..person("7")
    };
    let referral = |r: &str| {
        InboundEvent::Referral(Referral {
            r#ref: Some(r.into()),
            source: "SHORTLINK".into(),
            ad_id: None,
            referer_uri: None,
        })
    };
    let batch = vec![
        item(
            ch,
            InboundEnvelope {
                contact: Some(named(Some("Ann"), None)),
                ..receipt("7", "ref-a", referral("first"))
            },
            vec![],
        ),
        item(
            ch,
            text_message("7", "m_1", "hi", 3_000),
            vec![reply("ok", Lane::Reply)],
        ),
        item(
            ch,
            text_message("7", "m_1", "hi", 3_000),
            vec![reply("ok", Lane::Reply)],
        ),
        item(
            ch,
            InboundEnvelope {
                contact: Some(named(None, Some("Lee"))),
                ..receipt("7", "ref-b", referral("second"))
            },
            vec![],
        ),
        item(
            ch,
            receipt(
                "7",
                "block",
                InboundEvent::Reachability { reachable: false },
            ),
            vec![],
        ),
    ];
    let outcomes = store.ingest(&batch).await.unwrap();
    assert!(matches!(&outcomes[1], IngestOutcome::Stored { queued, .. } if queued.len() == 1));
    assert_eq!(
        outcomes[2],
        IngestOutcome::Duplicate,
        "a repeat inside one batch is still a duplicate"
    );
    let c = store.find_contact(ch, "7").await.unwrap().unwrap();
    assert_eq!(
        (c.first_name.as_deref(), c.last_name.as_deref()),
        (Some("Ann"), Some("Lee"))
    );
    assert_eq!(c.source_ref.as_deref(), Some("first"));
    assert!(!c.reachable, "the last reachability signal wins");
    assert_eq!(
        c.last_window_action_kind.as_deref(),
        Some("referral"),
        "the referral at 5000 is later than the message at 3000"
    );
    assert_eq!(store.outbox_pending().await.unwrap(), 1);
    let conversation = store.list_conversations(ch).await.unwrap().remove(0);
    assert_eq!(store.list_messages(conversation.id).await.unwrap().len(), 2);
}

async fn a_restarted_node_reclaims_its_rows_at_once_but_live_claims_are_left_alone(
    db: TestDatabase,
) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    for i in 0..2 {
        store
            .ingest(&[item(
                ch,
                text_message(&format!("{}", 7 + i), &format!("m_{i}"), "hi", i),
                vec![reply("ok", Lane::Reply)],
            )])
            .await
            .unwrap();
    }
    let now = Millis::now();
    let mine = claim(&store, "node-a#1", Lane::Reply, now, 1).await;
    let theirs = claim(&store, "node-b#1", Lane::Reply, now, 1).await;
    assert_eq!((mine.len(), theirs.len()), (1, 1));
    assert_eq!(
        store.recover_expired_leases(now).await.unwrap(),
        0,
        "periodic recovery leaves live leases alone"
    );
    assert_eq!(
        store
            .recover_previous_lives(restart("node-a", "node-a#2", now), now)
            .await
            .unwrap(),
        1,
        "node-a restarted"
    );
    let again = claim(&store, "node-a#2", Lane::Reply, now, 10).await;
    assert_eq!(
        again.iter().map(|j| j.message_id).collect::<Vec<_>>(),
        vec![mine[0].message_id]
    );
}

async fn migrations_are_idempotent_and_the_database_answers(db: TestDatabase) {
    let store = db.open().await;
    store
        .migrate()
        .await
        .expect("second migration run is a no-op");
    store.ping().await.expect("ping");
    assert!(store.list_channels().await.unwrap().is_empty());
}

async fn connecting_the_same_page_twice_is_a_conflict(db: TestDatabase) {
    let store = db.open().await;
    let id = messenger_channel(&store, "100").await;
    let again = store
        .create_channel(NewChannel {
            name: "dup".into(),
            external_id: "100".into(),
            settings: store.get_channel(id).await.unwrap().settings,
            default_reply: None,
        })
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.list_channels().await.unwrap().len(), 1);
}

async fn a_retried_event_is_stored_once_and_queues_one_reply(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    let first = store
        .ingest(&[item(
            ch,
            text_message("7", "m_1", "hi", 1_000),
            vec![reply("Thanks!", Lane::Reply)],
        )])
        .await
        .unwrap();
    assert!(matches!(&first[0], IngestOutcome::Stored { queued, .. } if queued.len() == 1));
    let retry = store
        .ingest(&[item(
            ch,
            text_message("7", "m_1", "hi", 1_000),
            vec![reply("Thanks!", Lane::Reply)],
        )])
        .await
        .unwrap();
    assert_eq!(retry, vec![IngestOutcome::Duplicate]);

    let conversations = store.list_conversations(ch).await.unwrap();
    assert_eq!(conversations.len(), 1);
    let messages = store.list_messages(conversations[0].id).await.unwrap();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0].text.as_deref(), Some("hi"));
    assert_eq!(messages[0].status, MessageStatus::Received);
    assert_eq!(messages[1].status, MessageStatus::Queued);
    assert_eq!(messages[1].author_kind, AuthorKind::Automation);
    assert_eq!(store.outbox_pending().await.unwrap(), 1);
    assert_eq!(store.count_events(ch).await.unwrap(), 1);
}

async fn a_batch_is_stored_whole(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    let batch: Vec<_> = (0..50)
        .map(|i| {
            item(
                ch,
                text_message(
                    &(1000 + i % 7).to_string(),
                    &format!("m_{i}"),
                    "hello",
                    1_000 + i,
                ),
                vec![],
            )
        })
        .collect();
    let outcomes = store.ingest(&batch).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, IngestOutcome::Stored { .. }))
    );
    assert_eq!(store.count_events(ch).await.unwrap(), 50);
    assert_eq!(store.list_contacts(ch).await.unwrap().len(), 7);
    assert_eq!(store.list_conversations(ch).await.unwrap().len(), 7);
}

async fn sent_reply(
    store: &Store,
    ch: ChannelId,
    psid: &str,
    mid: &str,
    sent_at: i64,
) -> switchboard_domain::MessageId {
    let out = store
        .ingest(&[item(
            ch,
            text_message(psid, mid, "hi", sent_at - 10),
            vec![reply("ok", Lane::Reply)],
        )])
        .await
        .unwrap();
    let IngestOutcome::Stored { queued, .. } = &out[0] else {
        panic!("duplicate")
    };
    let jobs = claim(store, "w", Lane::Reply, Millis::now(), 100).await;
    let job = jobs
        .iter()
        .find(|j| j.message_id == queued[0])
        .expect("claimed");
    store
        .record_dispatch(
            &job.claim,
            &[DispatchResult::Sent {
                message_id: job.message_id,
                platform_message_id: format!("out_{mid}"),
                at: Millis(sent_at),
            }],
        )
        .await
        .unwrap();
    queued[0]
}

fn receipt(psid: &str, key: &str, event: InboundEvent) -> InboundEnvelope {
    InboundEnvelope {
        dedupe_key: key.into(),
        contact: Some(person(psid)),
        occurred_at: Millis(5_000),
        standby: false,
        event,
    }
}

async fn receipts_move_statuses_forward_never_back(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    let early = sent_reply(&store, ch, "7", "m_1", 2_000).await;
    let late = sent_reply(&store, ch, "7", "m_2", 4_000).await;

    store
        .ingest(&[item(
            ch,
            receipt(
                "7",
                "d1",
                InboundEvent::Delivery {
                    watermark: Millis(3_000),
                    platform_message_ids: vec![],
                },
            ),
            vec![],
        )])
        .await
        .unwrap();
    assert_eq!(
        store.get_message(early).await.unwrap().status,
        MessageStatus::Delivered
    );
    assert_eq!(
        store.get_message(late).await.unwrap().status,
        MessageStatus::Sent,
        "after the watermark"
    );

    store
        .ingest(&[item(
            ch,
            receipt(
                "7",
                "r1",
                InboundEvent::Read {
                    watermark: Millis(4_000),
                },
            ),
            vec![],
        )])
        .await
        .unwrap();
    assert_eq!(
        store.get_message(early).await.unwrap().status,
        MessageStatus::Read
    );
    assert_eq!(
        store.get_message(late).await.unwrap().status,
        MessageStatus::Read
    );

    // A delivery receipt arriving after the read must not move anything back.
    store
        .ingest(&[item(
            ch,
            receipt(
                "7",
                "d2",
                InboundEvent::Delivery {
                    watermark: Millis(4_000),
                    platform_message_ids: vec!["out_m_2".into()],
                },
            ),
            vec![],
        )])
        .await
        .unwrap();
    assert_eq!(
        store.get_message(late).await.unwrap().status,
        MessageStatus::Read
    );
}

async fn the_window_clock_only_moves_forward_and_marketing_optins_do_not_open_it(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    store
        .ingest(&[item(ch, text_message("7", "m_new", "hi", 10_000), vec![])])
        .await
        .unwrap();
    // A platform retry of an older action arrives late.
    store
        .ingest(&[item(
            ch,
            text_message("7", "m_old", "earlier", 5_000),
            vec![],
        )])
        .await
        .unwrap();
    let optin = InboundEvent::Optin {
        r#ref: None,
        optin_type: Some("notification_messages".into()),
        payload: None,
        opens_window: false,
    };
    store
        .ingest(&[item(
            ch,
            InboundEnvelope {
                occurred_at: Millis(20_000),
                ..receipt("7", "o1", optin)
            },
            vec![],
        )])
        .await
        .unwrap();
    let contact = store.find_contact(ch, "7").await.unwrap().expect("contact");
    assert_eq!(contact.last_window_action_at, Some(Millis(10_000)));
    assert_eq!(contact.last_window_action_kind.as_deref(), Some("message"));

    let reaction = InboundEvent::Reaction {
        platform_message_id: "x".into(),
        reaction: Some("love".into()),
        emoji: None,
        removed: false,
    };
    store
        .ingest(&[item(
            ch,
            InboundEnvelope {
                occurred_at: Millis(30_000),
                ..receipt("7", "re1", reaction)
            },
            vec![],
        )])
        .await
        .unwrap();
    let contact = store.find_contact(ch, "7").await.unwrap().unwrap();
    assert_eq!(contact.last_window_action_at, Some(Millis(30_000)));
    assert_eq!(contact.last_window_action_kind.as_deref(), Some("reaction"));
}

async fn first_touch_source_is_kept_and_blocks_make_contacts_unreachable(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    let referral = |r: &str| {
        InboundEvent::Referral(Referral {
            r#ref: Some(r.into()),
            source: "SHORTLINK".into(),
            ad_id: None,
            referer_uri: None,
        })
    };
    store
        .ingest(&[item(ch, receipt("7", "ref1", referral("summer")), vec![])])
        .await
        .unwrap();
    store
        .ingest(&[item(ch, receipt("7", "ref2", referral("winter")), vec![])])
        .await
        .unwrap();
    let c = store.find_contact(ch, "7").await.unwrap().unwrap();
    assert_eq!(
        (c.source_ref.as_deref(), c.source_kind.as_deref()),
        (Some("summer"), Some("SHORTLINK"))
    );
    assert!(c.reachable);

    store
        .ingest(&[item(
            ch,
            receipt("7", "b1", InboundEvent::Reachability { reachable: false }),
            vec![],
        )])
        .await
        .unwrap();
    assert!(
        !store
            .find_contact(ch, "7")
            .await
            .unwrap()
            .unwrap()
            .reachable
    );
    store
        .ingest(&[item(
            ch,
            receipt("7", "b2", InboundEvent::Reachability { reachable: true }),
            vec![],
        )])
        .await
        .unwrap();
    assert!(
        store
            .find_contact(ch, "7")
            .await
            .unwrap()
            .unwrap()
            .reachable
    );
}

async fn claimed_rows_are_leased_and_results_recorded(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    for i in 0..3 {
        store
            .ingest(&[item(
                ch,
                text_message("7", &format!("m_{i}"), "hi", 1_000 + i),
                vec![reply("ok", Lane::Reply)],
            )])
            .await
            .unwrap();
    }
    let now = Millis::now();
    let jobs = claim(&store, "a", Lane::Reply, now, 10).await;
    assert_eq!(jobs.len(), 3);
    assert_eq!(
        jobs[0].recipient,
        ExternalUserId::from(Psid::parse("7").unwrap())
    );
    assert!(
        claim(&store, "b", Lane::Reply, now, 10).await.is_empty(),
        "leased rows are not claimed twice"
    );
    assert!(
        claim(&store, "b", Lane::Bulk, now, 10).await.is_empty(),
        "lanes are separate"
    );

    store
        .record_dispatch(
            &jobs[0].claim,
            &[
                DispatchResult::Retry {
                    message_id: jobs[0].message_id,
                    run_at: now.plus_millis(60_000),
                    detail: "503".into(),
                },
                DispatchResult::Failed {
                    message_id: jobs[1].message_id,
                    class: SendErrorClass::RecipientUnavailable,
                    detail: "551/1545041".into(),
                    contact_unreachable: Some(jobs[1].contact_id),
                },
                DispatchResult::Sent {
                    message_id: jobs[2].message_id,
                    platform_message_id: "m_out".into(),
                    at: now,
                },
            ],
        )
        .await
        .unwrap();
    let retried = store.get_message(jobs[0].message_id).await.unwrap();
    assert_eq!(
        (retried.status, retried.error_detail.as_deref()),
        (MessageStatus::Queued, Some("503"))
    );
    assert!(
        claim(&store, "a", Lane::Reply, now, 10).await.is_empty(),
        "not due yet"
    );
    let later = now.plus_millis(61_000);
    let again = claim(&store, "a", Lane::Reply, later, 10).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);

    let failed = store.get_message(jobs[1].message_id).await.unwrap();
    assert_eq!(
        (failed.status, failed.error_class.as_deref()),
        (MessageStatus::Failed, Some("recipient_unavailable"))
    );
    assert!(
        !store
            .find_contact(ch, "7")
            .await
            .unwrap()
            .unwrap()
            .reachable
    );
    let sent = store.get_message(jobs[2].message_id).await.unwrap();
    assert_eq!(
        (sent.status, sent.platform_message_id.as_deref()),
        (MessageStatus::Sent, Some("m_out"))
    );
}

async fn a_dead_senders_rows_are_recovered_by_lane(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    store
        .ingest(&[item(
            ch,
            text_message("7", "m_1", "hi", 1),
            vec![reply("answer", Lane::Reply), reply("promo", Lane::Bulk)],
        )])
        .await
        .unwrap();
    let now = Millis::now();
    let r = claim(&store, "dead-node", Lane::Reply, now, 10).await;
    let b = claim(&store, "dead-node", Lane::Bulk, now, 10).await;
    assert_eq!((r.len(), b.len()), (1, 1));
    // The bulk message's platform call had started, the reply's had not.
    mark(&store, &b[0].claim, &[b[0].message_id], now).await;
    assert_eq!(
        store.recover_expired_leases(now).await.unwrap(),
        0,
        "leases still valid"
    );
    assert_eq!(
        store
            .recover_expired_leases(now.plus_millis(31_000))
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store.get_message(b[0].message_id).await.unwrap().status,
        MessageStatus::Unknown
    );
    assert_eq!(
        store.get_message(r[0].message_id).await.unwrap().status,
        MessageStatus::Queued
    );
    let again = claim(
        &store,
        "other-node",
        Lane::Reply,
        now.plus_millis(31_000),
        10,
    )
    .await;
    assert_eq!(again.len(), 1, "the reply is sent again");
    assert!(
        claim(
            &store,
            "other-node",
            Lane::Bulk,
            now.plus_millis(31_000),
            10
        )
        .await
        .is_empty(),
        "bulk is never re-sent"
    );
}

/// Marks the rows' platform calls as started; returns the ids that were marked.
async fn mark(
    store: &Store,
    claim: &ClaimToken,
    ids: &[switchboard_domain::MessageId],
    now: Millis,
) -> Vec<switchboard_domain::MessageId> {
    store
        .mark_calls_started(claim, ids, now)
        .await
        .expect("mark calls started")
}

/// One inbound message answered by a reply and followed by a campaign message: one row per lane.
async fn one_row_per_lane(store: &Store) -> ChannelId {
    let ch = messenger_channel(store, "100").await;
    store
        .ingest(&[item(
            ch,
            text_message("7", "m_1", "hi", 1),
            vec![reply("answer", Lane::Reply), reply("promo", Lane::Bulk)],
        )])
        .await
        .unwrap();
    ch
}

async fn status_of(store: &Store, id: switchboard_domain::MessageId) -> MessageStatus {
    store.get_message(id).await.unwrap().status
}

async fn claimed_rows_whose_call_never_started_go_back_to_the_queue_on_both_lanes(
    db: TestDatabase,
) {
    let store = db.open().await;
    one_row_per_lane(&store).await;
    let now = Millis::now();
    let r = claim(&store, "dead-node", Lane::Reply, now, 10).await;
    let b = claim(&store, "dead-node", Lane::Bulk, now, 10).await;
    assert_eq!((r.len(), b.len()), (1, 1));
    // Claimed, waiting for a pacing slot or a permit, when the node died: no call was made.
    let later = now.plus_millis(31_000);
    assert_eq!(store.recover_expired_leases(later).await.unwrap(), 2);
    for id in [r[0].message_id, b[0].message_id] {
        assert_eq!(status_of(&store, id).await, MessageStatus::Queued);
    }
    assert_eq!(store.outbox_pending().await.unwrap(), 2);
    let r2 = claim(&store, "other-node", Lane::Reply, later, 10).await;
    let b2 = claim(&store, "other-node", Lane::Bulk, later, 10).await;
    assert_eq!(
        (r2[0].message_id, b2[0].message_id),
        (r[0].message_id, b[0].message_id),
        "both are sent after all, bulk included"
    );
}

async fn rows_whose_call_started_become_unknown_on_both_lanes(db: TestDatabase) {
    let store = db.open().await;
    one_row_per_lane(&store).await;
    let now = Millis::now();
    let r = claim(&store, "dead-node", Lane::Reply, now, 10).await;
    let b = claim(&store, "dead-node", Lane::Bulk, now, 10).await;
    let ids = [r[0].message_id, b[0].message_id];
    assert_eq!(mark(&store, &r[0].claim, &ids, now).await.len(), 1);
    assert_eq!(mark(&store, &b[0].claim, &ids, now).await.len(), 1);
    let later = now.plus_millis(31_000);
    assert_eq!(store.recover_expired_leases(later).await.unwrap(), 2);
    for id in ids {
        let m = store.get_message(id).await.unwrap();
        assert_eq!(
            m.status,
            MessageStatus::Unknown,
            "the call may have happened"
        );
        assert!(m.error_detail.unwrap().contains("not re-sent"));
    }
    assert_eq!(store.outbox_pending().await.unwrap(), 0, "terminal");
    for lane in [Lane::Reply, Lane::Bulk] {
        assert!(
            claim(&store, "other-node", lane, later, 10)
                .await
                .is_empty(),
            "never re-sent: {lane:?}"
        );
    }
    assert_eq!(
        store.recover_expired_leases(later).await.unwrap(),
        0,
        "recovery is done with them"
    );
}

async fn a_restarted_nodes_rows_are_sorted_by_the_call_started_mark(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    for i in 0..4 {
        store
            .ingest(&[item(
                ch,
                text_message("7", &format!("m_{i}"), "hi", i),
                vec![reply("ok", Lane::Reply), reply("promo", Lane::Bulk)],
            )])
            .await
            .unwrap();
    }
    let now = Millis::now();
    let r = claim(&store, "node-a#1", Lane::Reply, now, 10).await;
    let b = claim(&store, "node-a#1", Lane::Bulk, now, 10).await;
    assert_eq!((r.len(), b.len()), (4, 4));
    // Half of each lane had its call started.
    let started = [
        r[0].message_id,
        r[1].message_id,
        b[0].message_id,
        b[1].message_id,
    ];
    assert_eq!(mark(&store, &r[0].claim, &started, now).await.len(), 2);
    assert_eq!(mark(&store, &b[0].claim, &started, now).await.len(), 2);
    // node-a restarts at once: leases still valid, but its previous life is over.
    assert_eq!(
        store
            .recover_previous_lives(restart("node-a", "node-a#2", now), now)
            .await
            .unwrap(),
        8
    );
    for job in r.iter().chain(&b) {
        let expected = if started.contains(&job.message_id) {
            MessageStatus::Unknown
        } else {
            MessageStatus::Queued
        };
        assert_eq!(status_of(&store, job.message_id).await, expected);
    }
    let again: Vec<_> = claim(&store, "node-a#2", Lane::Reply, now, 10)
        .await
        .into_iter()
        .chain(claim(&store, "node-a#2", Lane::Bulk, now, 10).await)
        .map(|j| j.message_id)
        .collect();
    assert_eq!(
        again,
        vec![
            r[2].message_id,
            r[3].message_id,
            b[2].message_id,
            b[3].message_id
        ]
    );
}

async fn only_a_live_claim_of_ones_own_can_be_marked_and_a_new_claim_clears_the_mark(
    db: TestDatabase,
) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    for i in 0..3 {
        store
            .ingest(&[item(
                ch,
                text_message("7", &format!("m_{i}"), "hi", i),
                vec![reply("ok", Lane::Bulk)],
            )])
            .await
            .unwrap();
    }
    let now = Millis::now();
    let jobs = claim(&store, "a", Lane::Bulk, now, 2).await;
    let all: Vec<_> = store
        .list_messages(store.list_conversations(ch).await.unwrap()[0].id)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == switchboard_domain::Direction::Out)
        .map(|m| m.id)
        .collect();
    assert_eq!(all.len(), 3);
    let unclaimed = *all
        .iter()
        .find(|id| jobs.iter().all(|j| j.message_id != **id))
        .unwrap();
    // Someone else's claim, for another person.
    store
        .ingest(&[item(
            ch,
            text_message("8", "m_8", "hi", 9),
            vec![reply("ok", Lane::Bulk)],
        )])
        .await
        .unwrap();
    let theirs = claim(&store, "b", Lane::Bulk, Millis::now(), 10).await;
    assert_eq!(
        theirs.len(),
        1,
        "person 7's third row waits behind their first two"
    );

    assert!(
        mark(&store, &theirs[0].claim, &[jobs[0].message_id], now)
            .await
            .is_empty(),
        "another worker's claim"
    );
    assert!(
        mark(&store, &jobs[0].claim, &[unclaimed], now)
            .await
            .is_empty(),
        "a queued row"
    );
    assert!(
        mark(
            &store,
            &jobs[0].claim,
            &[jobs[0].message_id],
            now.plus_millis(30_001)
        )
        .await
        .is_empty(),
        "the lease has run out: the row may be someone else's by now"
    );
    let ids = [jobs[0].message_id, jobs[1].message_id, unclaimed];
    let mut marked = mark(&store, &jobs[0].claim, &ids, now).await;
    marked.sort();
    assert_eq!(marked, vec![jobs[0].message_id, jobs[1].message_id]);

    // A retried and a deferred row go back to the queue; their next claim starts unmarked, so a
    // crash before that claim's call re-queues them instead of making them unknown.
    store
        .record_dispatch(
            &jobs[0].claim,
            &[
                DispatchResult::Retry {
                    message_id: jobs[0].message_id,
                    run_at: now,
                    detail: "503".into(),
                },
                DispatchResult::Deferred {
                    message_id: jobs[1].message_id,
                    run_at: now,
                },
            ],
        )
        .await
        .unwrap();
    let again = claim(&store, "a", Lane::Bulk, now, 10).await;
    assert_eq!(again.len(), 3);
    assert_eq!(
        store
            .recover_expired_leases(now.plus_millis(31_000))
            .await
            .unwrap(),
        4
    );
    for id in ids {
        assert_eq!(status_of(&store, id).await, MessageStatus::Queued);
    }
}

async fn periodic_recovery_leaves_a_live_nodes_started_calls_alone(db: TestDatabase) {
    let store = db.open().await;
    one_row_per_lane(&store).await;
    let now = Millis::now();
    let r = claim(&store, "live-node#1", Lane::Reply, now, 10).await;
    let b = claim(&store, "live-node#1", Lane::Bulk, now, 10).await;
    mark(&store, &r[0].claim, &[r[0].message_id], now).await;
    assert_eq!(
        store
            .recover_expired_leases(now.plus_millis(29_000))
            .await
            .unwrap(),
        0,
        "leases still valid"
    );
    assert_eq!(
        store
            .recover_previous_lives(restart("other-node", "other-node#2", now), now)
            .await
            .unwrap(),
        0,
        "another node restarting leaves them alone"
    );
    for id in [r[0].message_id, b[0].message_id] {
        assert_eq!(status_of(&store, id).await, MessageStatus::Sending);
    }
    // The live node records its results as usual.
    store
        .record_dispatch(
            &r[0].claim,
            &[DispatchResult::Sent {
                message_id: r[0].message_id,
                platform_message_id: "m_out".into(),
                at: now,
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        status_of(&store, r[0].message_id).await,
        MessageStatus::Sent
    );
}

async fn a_large_group_is_marked_in_chunks(db: TestDatabase) {
    let store = db.open().await;
    let ch = messenger_channel(&store, "100").await;
    store
        .ingest(&[item(ch, text_message("7", "m_1", "hi", 1), vec![])])
        .await
        .unwrap();
    let conversation = store.list_conversations(ch).await.unwrap().remove(0).id;
    let items: Vec<_> = (0..450)
        .map(|i| OutgoingItem {
            conversation_id: conversation,
            draft: reply(&format!("promo {i}"), Lane::Bulk),
        })
        .collect();
    store.enqueue(&items).await.unwrap();
    let now = Millis::now();
    let jobs = claim(&store, "w#1", Lane::Bulk, now, 1_000).await;
    assert_eq!(jobs.len(), 450);
    let ids: Vec<_> = jobs.iter().map(|j| j.message_id).collect();
    assert_eq!(
        mark(&store, &jobs[0].claim, &ids[..449], now).await.len(),
        449
    );
    assert_eq!(
        store
            .recover_previous_lives(restart("w", "w#2", now), now)
            .await
            .unwrap(),
        450
    );
    assert_eq!(status_of(&store, ids[449]).await, MessageStatus::Queued);
    assert_eq!(status_of(&store, ids[0]).await, MessageStatus::Unknown);
    assert_eq!(store.outbox_pending().await.unwrap(), 1);
}

mod concurrent_migrations {
    //! Eight nodes starting at the same moment on a fresh database all succeed, and the schema
    //! is applied once.

    use switchboard_storage::testing::TestDatabase;
    use switchboard_storage::{Store, StoreOptions, on_both_backends};

    on_both_backends!(eight_simultaneous_starts_all_migrate);

    async fn eight_simultaneous_starts_all_migrate(db: TestDatabase) {
        let starts = (0..8).map(|_| {
            let url = db.url.clone();
            tokio::spawn(async move {
                let store = Store::connect(StoreOptions::new(url)).await?;
                store.migrate().await?;
                Ok::<_, switchboard_storage::StoreError>(store)
            })
        });
        let mut stores = Vec::new();
        for start in starts.collect::<Vec<_>>() {
            stores.push(start.await.expect("join").expect("every start succeeds"));
        }
        let applied = stores[0]
            .count_schema_migrations()
            .await
            .expect("count migrations");
        assert_eq!(
            applied,
            stores[0].known_migrations() as i64,
            "each applied once"
        );
        for store in stores {
            store.close().await;
        }
    }
}
