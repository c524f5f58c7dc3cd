//! The search index on SQLite and PostgreSQL: messages indexed after they are stored (once,
//! even when a run looks back), found by any of their words, within the channels asked for.

use switchboard_domain::{
    ChannelId, ContactRef, Content, InboundEnvelope, InboundEvent, Millis, Psid,
};
use switchboard_storage::testing::{TestDatabase, fixtures};
use switchboard_storage::{IngestItem, Store, on_both_backends};

on_both_backends!(messages_are_found_by_their_words_within_the_channels_asked_for);

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

async fn messages_are_found_by_their_words_within_the_channels_asked_for(db: TestDatabase) {
    let store = Store::open(switchboard_storage::StoreOptions::new(db.url.clone()))
        .await
        .unwrap();
    let a = fixtures::messenger_page(&store, "100").await;
    let b = fixtures::messenger_page(&store, "200").await;
    writes(
        &store,
        a,
        "2400000000001",
        "m1",
        "Il pacco è arrivato rotto",
    )
    .await;
    writes(&store, a, "2400000000002", "m2", "Paketti on myöhässä").await;
    writes(
        &store,
        b,
        "2400000000003",
        "m3",
        "pacco per un altro negozio",
    )
    .await;
    assert_eq!(store.index_new_messages(500).await.unwrap(), 3);
    assert_eq!(
        store.index_new_messages(500).await.unwrap(),
        0,
        "each message once"
    );

    let all = store
        .search_texts("pacco", None, &["message"], 10)
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    let only_a = store
        .search_texts("PACCO rotto", Some(&[a]), &["message"], 10)
        .await
        .unwrap();
    assert_eq!(only_a.len(), 1, "{only_a:?}");
    assert!(only_a[0].snippet.contains("pacco"), "{only_a:?}");
    let finnish = store
        .search_texts("myöhässä", Some(&[a]), &["message"], 10)
        .await
        .unwrap();
    assert_eq!(finnish.len(), 1);
    assert!(
        store
            .search_texts("pacco", Some(&[]), &["message"], 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;
}
