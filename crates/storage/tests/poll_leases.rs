//! The Telegram poll lease, on SQLite and PostgreSQL: one holder at a time, renewed by it,
//! taken over only after it expired (or was released).

use switchboard_domain::{ChannelId, Millis};
use switchboard_storage::on_both_backends;
use switchboard_storage::testing::TestDatabase;

const BOT: ChannelId = ChannelId(7);
const LEASE: i64 = 6_000;

on_both_backends!(
    a_lease_is_held_renewed_refused_and_taken_over_after_expiry,
    a_released_lease_is_free_at_once,
);

async fn a_lease_is_held_renewed_refused_and_taken_over_after_expiry(db: TestDatabase) {
    let store = db.open().await;
    let t = Millis(1_000_000);
    assert!(
        store.acquire_poll_lease(BOT, "a", t, LEASE).await.unwrap(),
        "free: taken"
    );
    assert!(
        !store
            .acquire_poll_lease(BOT, "b", t.plus_millis(1), LEASE)
            .await
            .unwrap(),
        "held: refused"
    );
    let renewed = t.plus_millis(2_000);
    assert!(
        store
            .acquire_poll_lease(BOT, "a", renewed, LEASE)
            .await
            .unwrap(),
        "renewed"
    );
    assert_eq!(
        store.poll_lease(BOT).await.unwrap(),
        Some(("a".into(), renewed.plus_millis(LEASE)))
    );
    // The first lease would have expired by now; the renewal keeps it.
    assert!(
        !store
            .acquire_poll_lease(BOT, "b", t.plus_millis(LEASE + 1), LEASE)
            .await
            .unwrap(),
        "renewed lease still held"
    );
    let later = renewed.plus_millis(LEASE + 1);
    assert!(
        store
            .acquire_poll_lease(BOT, "b", later, LEASE)
            .await
            .unwrap(),
        "expired: taken over"
    );
    assert!(
        !store
            .acquire_poll_lease(BOT, "a", later.plus_millis(1), LEASE)
            .await
            .unwrap(),
        "the old holder cannot renew what it lost"
    );
    assert_eq!(
        store.poll_lease(BOT).await.unwrap().map(|l| l.0),
        Some("b".into())
    );
    // Other bots are independent.
    assert!(
        store
            .acquire_poll_lease(ChannelId(8), "a", later, LEASE)
            .await
            .unwrap()
    );
}

async fn a_released_lease_is_free_at_once(db: TestDatabase) {
    let store = db.open().await;
    let t = Millis(1_000_000);
    assert!(store.acquire_poll_lease(BOT, "a", t, LEASE).await.unwrap());
    store.release_poll_leases("b").await.unwrap();
    assert!(
        !store.acquire_poll_lease(BOT, "b", t, LEASE).await.unwrap(),
        "not b's to release"
    );
    store.release_poll_leases("a").await.unwrap();
    assert!(store.acquire_poll_lease(BOT, "b", t, LEASE).await.unwrap());
}
