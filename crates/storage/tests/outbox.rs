//! The outbox's fences and order, on SQLite and PostgreSQL: a worker that lost its claim changes
//! nothing, a live claim keeps its rows as long as it renews them, a person's messages are claimed
//! only behind every earlier unfinished one of theirs, and odd platform answers are still recorded.

use switchboard_domain::{InboundEvent, MessageId, MessageStatus, Millis};
use switchboard_storage::testing::TestDatabase;
use switchboard_storage::testing::fixtures::{
    answer, from_person, messenger_page, text_from, with_answers,
};
use switchboard_storage::{DispatchResult, Lane, OutboxJob, Restart, Store, on_both_backends};

on_both_backends!(
    a_lost_claim_can_neither_mark_nor_renew_nor_record,
    a_renewed_lease_outlives_its_first_term,
    a_retried_message_holds_back_its_persons_later_ones_only,
    a_person_is_never_split_across_concurrent_claims,
    a_repeated_platform_message_id_still_records_the_send,
    a_receipt_that_beats_the_send_result_still_counts,
    a_live_process_sharing_a_node_name_keeps_its_rows,
);

const LEASE_MS: i64 = 30_000;

async fn claim(store: &Store, process: &str, now: Millis, limit: i64) -> Vec<OutboxJob> {
    store
        .claim_outbox(
            process,
            Lane::Reply,
            now,
            now.plus_millis(LEASE_MS),
            limit,
            &[],
        )
        .await
        .expect("claim")
}

/// `n` answers queued for the person with this PSID, in one stored message.
async fn queue_for(store: &Store, psid: &str, n: usize) {
    let channel = match store.list_channels().await.unwrap().first() {
        Some(c) => c.id,
        None => messenger_page(store, "100").await,
    };
    let answers = (0..n)
        .map(|i| answer(&format!("answer {i} to {psid}"), Lane::Reply))
        .collect();
    let mid = format!("m_{psid}_{}", next_suffix());
    store
        .ingest(&[with_answers(
            channel,
            text_from(psid, &mid, "hi", 1),
            answers,
        )])
        .await
        .expect("ingest");
}

fn next_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn sent(job: &OutboxJob, platform_id: &str, at: Millis) -> DispatchResult {
    DispatchResult::Sent {
        message_id: job.message_id,
        platform_message_id: platform_id.into(),
        at,
    }
}

async fn status_of(store: &Store, id: MessageId) -> MessageStatus {
    store.get_message(id).await.unwrap().status
}

fn ids(jobs: &[OutboxJob]) -> Vec<MessageId> {
    jobs.iter().map(|j| j.message_id).collect()
}

async fn a_lost_claim_can_neither_mark_nor_renew_nor_record(db: TestDatabase) {
    let store = db.open().await;
    queue_for(&store, "7", 1).await;
    let now = Millis::now();
    let first = claim(&store, "slow#1", now, 10).await;
    // The first holder stalls past its lease; recovery re-queues the row and another worker of
    // the same node claims it.
    let later = now.plus_millis(LEASE_MS + 1_000);
    assert_eq!(store.recover_expired_leases(later).await.unwrap(), 1);
    let second = claim(&store, "slow#1", later, 10).await;
    assert_eq!(ids(&second), ids(&first));
    assert_ne!(
        first[0].claim, second[0].claim,
        "every claim has its own token"
    );

    let stale = &first[0].claim;
    assert!(
        store
            .mark_calls_started(stale, &ids(&first), later)
            .await
            .unwrap()
            .is_empty(),
        "a stale claim cannot start a call"
    );
    assert_eq!(
        store
            .renew_outbox_lease(stale, later.plus_millis(LEASE_MS))
            .await
            .unwrap(),
        0
    );
    for stale_result in [
        sent(&first[0], "m_stale", later),
        DispatchResult::Retry {
            message_id: first[0].message_id,
            run_at: later,
            detail: "503".into(),
        },
        DispatchResult::Unknown {
            message_id: first[0].message_id,
            detail: "timeout".into(),
        },
    ] {
        let recorded = store.record_dispatch(stale, &[stale_result]).await.unwrap();
        assert_eq!(recorded.stale, 1);
    }
    let row = store.get_message(first[0].message_id).await.unwrap();
    assert_eq!(
        (row.status, row.platform_message_id),
        (MessageStatus::Sending, None),
        "still the second claim's, untouched"
    );

    let current = &second[0].claim;
    assert_eq!(
        store
            .mark_calls_started(current, &ids(&second), later)
            .await
            .unwrap(),
        ids(&second)
    );
    let recorded = store
        .record_dispatch(current, &[sent(&second[0], "m_1", later)])
        .await
        .unwrap();
    assert_eq!(recorded.stale, 0);
    assert_eq!(
        status_of(&store, second[0].message_id).await,
        MessageStatus::Sent
    );
}

async fn a_renewed_lease_outlives_its_first_term(db: TestDatabase) {
    let store = db.open().await;
    queue_for(&store, "7", 2).await;
    let now = Millis::now();
    let jobs = claim(&store, "p#1", now, 10).await;
    assert_eq!(jobs.len(), 2);
    let renewed_at = now.plus_millis(20_000);
    assert_eq!(
        store
            .renew_outbox_lease(&jobs[0].claim, renewed_at.plus_millis(LEASE_MS))
            .await
            .unwrap(),
        2
    );
    let past_first_term = now.plus_millis(LEASE_MS + 1_000);
    assert_eq!(
        store.recover_expired_leases(past_first_term).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .mark_calls_started(&jobs[0].claim, &ids(&jobs), past_first_term)
            .await
            .unwrap()
            .len(),
        2,
        "still ours after the first term"
    );
    // A finished row is no longer renewed.
    store
        .record_dispatch(&jobs[0].claim, &[sent(&jobs[0], "m_1", now)])
        .await
        .unwrap();
    assert_eq!(
        store
            .renew_outbox_lease(&jobs[0].claim, past_first_term.plus_millis(LEASE_MS))
            .await
            .unwrap(),
        1
    );
}

async fn a_retried_message_holds_back_its_persons_later_ones_only(db: TestDatabase) {
    let store = db.open().await;
    queue_for(&store, "7", 3).await;
    queue_for(&store, "8", 1).await;
    let now = Millis::now();
    let jobs = claim(&store, "p#1", now, 10).await;
    assert_eq!(jobs.len(), 4);
    let sevens: Vec<_> = jobs
        .iter()
        .filter(|j| j.contact_id == jobs[0].contact_id)
        .collect();
    assert_eq!(sevens.len(), 3);
    // Person 7's first message fails and is retried in a minute; the dispatcher hands their
    // other two back unsent. Person 8's message is sent.
    let retry_at = now.plus_millis(60_000);
    let eight = jobs
        .iter()
        .find(|j| j.contact_id != jobs[0].contact_id)
        .unwrap();
    store
        .record_dispatch(
            &jobs[0].claim,
            &[
                DispatchResult::Retry {
                    message_id: sevens[0].message_id,
                    run_at: retry_at,
                    detail: "503".into(),
                },
                DispatchResult::Deferred {
                    message_id: sevens[1].message_id,
                    run_at: now,
                },
                DispatchResult::Deferred {
                    message_id: sevens[2].message_id,
                    run_at: now,
                },
                sent(eight, "m_8", now),
            ],
        )
        .await
        .unwrap();
    // Another person's new message is not held back by 7's retry.
    queue_for(&store, "9", 1).await;
    let soon = now.plus_millis(1_000);
    let meanwhile = claim(&store, "p#1", soon, 10).await;
    assert_eq!(meanwhile.len(), 1, "only person 9's message: {meanwhile:?}");
    assert_ne!(meanwhile[0].contact_id, sevens[0].contact_id);
    // When the retry is due, person 7's three go out in their order.
    let due = claim(&store, "p#1", retry_at, 10).await;
    assert_eq!(
        ids(&due),
        sevens.iter().map(|j| j.message_id).collect::<Vec<_>>()
    );
}

async fn a_person_is_never_split_across_concurrent_claims(db: TestDatabase) {
    let store = db.open().await;
    for psid in 1..=20 {
        queue_for(&store, &psid.to_string(), 3).await;
    }
    let now = Millis::now();
    // Small claims racing each other (on PostgreSQL they run truly at once, skipping each
    // other's locked rows): no person's later message may be claimed while an earlier one is
    // outside that claim.
    let mut claims = Vec::new();
    for round in 0..6 {
        let mut racing = Vec::new();
        for worker in 0..4 {
            let store = store.clone();
            racing.push(tokio::spawn(async move {
                let process = format!("p#{round}-{worker}");
                claim(&store, &process, now, 7).await
            }));
        }
        for r in racing {
            claims.push(r.await.unwrap());
        }
    }
    let mut seen = std::collections::HashMap::<i64, Vec<(usize, MessageId)>>::new();
    for (n, jobs) in claims.iter().enumerate() {
        for job in jobs {
            seen.entry(job.contact_id)
                .or_default()
                .push((n, job.message_id));
        }
    }
    let claimed: usize = claims.iter().map(Vec::len).sum();
    assert!(claimed > 0);
    for (contact, rows) in seen {
        let claims_of_person: std::collections::BTreeSet<_> =
            rows.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            claims_of_person.len(),
            1,
            "person {contact}'s rows were split across claims: {rows:?}"
        );
    }
}

async fn a_repeated_platform_message_id_still_records_the_send(db: TestDatabase) {
    let store = db.open().await;
    queue_for(&store, "7", 3).await;
    let now = Millis::now();
    let jobs = claim(&store, "p#1", now, 10).await;
    assert_eq!(jobs.len(), 3);
    // The platform answers the same id for the first two, in one batch…
    store
        .record_dispatch(
            &jobs[0].claim,
            &[sent(&jobs[0], "m_same", now), sent(&jobs[1], "m_same", now)],
        )
        .await
        .expect("a repeated id does not fail the batch");
    // …and again for the third, later.
    store
        .record_dispatch(&jobs[0].claim, &[sent(&jobs[2], "m_same", now)])
        .await
        .unwrap();
    let rows: Vec<_> = rows_of(&store, &jobs).await;
    assert!(
        rows.iter().all(|r| r.status == MessageStatus::Sent),
        "{rows:?}"
    );
    let with_id: Vec<_> = rows
        .iter()
        .filter(|r| r.platform_message_id.as_deref() == Some("m_same"))
        .collect();
    assert_eq!(with_id.len(), 1, "the id is stored once: {rows:?}");
    for other in rows.iter().filter(|r| r.platform_message_id.is_none()) {
        assert!(
            other
                .error_detail
                .as_deref()
                .unwrap_or("")
                .contains("m_same"),
            "the odd answer is kept for people: {other:?}"
        );
    }
    assert_eq!(
        store.outbox_pending().await.unwrap(),
        0,
        "nothing left sending"
    );
}

async fn rows_of(store: &Store, jobs: &[OutboxJob]) -> Vec<switchboard_storage::MessageRow> {
    let mut rows = Vec::new();
    for job in jobs {
        rows.push(store.get_message(job.message_id).await.unwrap());
    }
    rows
}

async fn a_receipt_that_beats_the_send_result_still_counts(db: TestDatabase) {
    let store = db.open().await;
    queue_for(&store, "7", 1).await;
    let channel = store.list_channels().await.unwrap()[0].id;
    let now = Millis::now();
    let jobs = claim(&store, "p#1", now, 10).await;
    let called_at = now.plus_millis(5);
    // Meta's read webhook (watermark = the message's time at Meta) is committed before the
    // Send API's answer is recorded.
    let watermark = called_at.plus_millis(40);
    let read = from_person("7", "read:1", watermark.0, InboundEvent::Read { watermark });
    store
        .ingest(&[with_answers(channel, read, vec![])])
        .await
        .unwrap();
    assert_eq!(
        status_of(&store, jobs[0].message_id).await,
        MessageStatus::Sending
    );
    store
        .record_dispatch(&jobs[0].claim, &[sent(&jobs[0], "m_1", called_at)])
        .await
        .unwrap();
    assert_eq!(
        status_of(&store, jobs[0].message_id).await,
        MessageStatus::Read
    );
}

async fn a_live_process_sharing_a_node_name_keeps_its_rows(db: TestDatabase) {
    let store = db.open().await;
    queue_for(&store, "7", 1).await;
    let now = Millis::now();
    // Two processes were started with the same SWITCHBOARD_NODE_ID; the first is alive.
    store.heartbeat("shared#1", now, 7_000).await.unwrap();
    let jobs = claim(&store, "shared#1", now, 10).await;
    store
        .mark_calls_started(&jobs[0].claim, &ids(&jobs), now)
        .await
        .unwrap();
    assert_eq!(
        store
            .previous_life_last_seen("shared", "shared#2")
            .await
            .unwrap(),
        Some(now),
        "a restarting process learns when the other last beat"
    );
    assert_eq!(
        store
            .previous_life_last_seen("shared", "shared#1")
            .await
            .unwrap(),
        None,
        "its own rows are not a previous life's"
    );
    let restart = Restart {
        node: "shared",
        process: "shared#2",
        alive_after: now.plus_millis(-7_000),
    };
    assert_eq!(
        store.recover_previous_lives(restart, now).await.unwrap(),
        0,
        "the other process is alive: its row is in flight, not abandoned"
    );
    assert_eq!(
        status_of(&store, jobs[0].message_id).await,
        MessageStatus::Sending
    );
    // Once it has been silent for longer than the liveness window, it is a previous life.
    let later = now.plus_millis(8_000);
    let restart = Restart {
        alive_after: later.plus_millis(-7_000),
        ..restart
    };
    assert_eq!(
        store.recover_previous_lives(restart, later).await.unwrap(),
        1
    );
    assert_eq!(
        status_of(&store, jobs[0].message_id).await,
        MessageStatus::Unknown
    );
}
