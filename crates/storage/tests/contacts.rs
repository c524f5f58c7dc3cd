//! Subscription, custom attributes, profile fetching and channel alerts, on SQLite and
//! PostgreSQL.

use std::collections::BTreeMap;

use switchboard_domain::{
    ChannelId, ContactRef, Content, InboundEnvelope, InboundEvent, Millis, Psid,
};
use switchboard_storage::testing::TestDatabase;
use switchboard_storage::testing::fixtures::messenger_page as page;
use switchboard_storage::{
    ChannelAlert, IngestItem, ProfileFacts, Store, StoreError, on_both_backends,
};

async fn person_writes(store: &Store, channel: ChannelId, psid: &str) {
    let envelope = InboundEnvelope {
        dedupe_key: format!("mid:{psid}"),
        contact: Some(ContactRef::id_only(Psid::parse(psid).unwrap().into())),
        occurred_at: Millis(1_800_000_000_000),
        standby: false,
        event: InboundEvent::Message {
            platform_message_id: format!("m_{psid}"),
            content: Content {
                text: Some("hi".into()),
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

async fn subscription_changes_once_and_is_read_back(db: TestDatabase) {
    let store = db.open().await;
    let channel = page(&store, "100").await;
    person_writes(&store, channel, "2001").await;
    let contact = store.find_contact(channel, "2001").await.unwrap().unwrap();
    assert!(contact.subscribed, "people start subscribed");
    let now = Millis(1_800_000_100_000);
    assert!(store.set_subscribed(contact.id, false, now).await.unwrap());
    assert!(!store.set_subscribed(contact.id, false, now).await.unwrap());
    assert!(
        !store
            .find_contact(channel, "2001")
            .await
            .unwrap()
            .unwrap()
            .subscribed
    );
    assert!(store.set_subscribed(contact.id, true, now).await.unwrap());
    assert!(
        store
            .find_contact(channel, "2001")
            .await
            .unwrap()
            .unwrap()
            .subscribed
    );
    let missing = switchboard_domain::ContactId(contact.id.0 + 999);
    assert!(matches!(
        store.set_subscribed(missing, false, now).await,
        Err(StoreError::NotFound)
    ));
}

async fn attributes_merge_and_remove(db: TestDatabase) {
    let store = db.open().await;
    let channel = page(&store, "100").await;
    person_writes(&store, channel, "2001").await;
    let contact = store.find_contact(channel, "2001").await.unwrap().unwrap();
    assert!(contact.attributes.is_empty());
    let now = Millis(1_800_000_100_000);
    let set = BTreeMap::from([
        ("budget".to_owned(), Some("50".to_owned())),
        ("for".to_owned(), Some("mum".to_owned())),
    ]);
    store
        .merge_contact_attributes(contact.id, &set, now)
        .await
        .unwrap();
    let change = BTreeMap::from([
        ("for".to_owned(), None),
        ("email".to_owned(), Some("a@b.example".to_owned())),
    ]);
    let merged = store
        .merge_contact_attributes(contact.id, &change, now)
        .await
        .unwrap();
    let expected = BTreeMap::from([
        ("budget".to_owned(), "50".to_owned()),
        ("email".to_owned(), "a@b.example".to_owned()),
    ]);
    assert_eq!(merged, expected);
    assert_eq!(
        store
            .find_contact(channel, "2001")
            .await
            .unwrap()
            .unwrap()
            .attributes,
        expected
    );
}

async fn profiles_are_fetched_once_and_keep_known_names(db: TestDatabase) {
    let store = db.open().await;
    let channel = page(&store, "100").await;
    person_writes(&store, channel, "2001").await;
    person_writes(&store, channel, "2002").await;
    let pending = store
        .pending_profiles(10, Millis::now().plus_millis(1))
        .await
        .unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].external_id, "2001");
    let now = Millis(1_800_000_100_000);
    let ada = ProfileFacts {
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        locale: Some("en_GB".into()),
    };
    store
        .record_profile(pending[0].contact_id, &ada, now)
        .await
        .unwrap();
    // The platform may answer `{}` (no permission): that is recorded too, so it is not asked again.
    store
        .record_profile(pending[1].contact_id, &ProfileFacts::default(), now)
        .await
        .unwrap();
    assert!(
        store
            .pending_profiles(10, Millis::now().plus_millis(1))
            .await
            .unwrap()
            .is_empty()
    );
    let row = store.find_contact(channel, "2001").await.unwrap().unwrap();
    assert_eq!(
        (
            row.first_name.as_deref(),
            row.last_name.as_deref(),
            row.locale.as_deref()
        ),
        (Some("Ada"), Some("Lovelace"), Some("en_GB"))
    );
    store
        .record_profile(pending[0].contact_id, &ProfileFacts::default(), now)
        .await
        .unwrap();
    let row = store.find_contact(channel, "2001").await.unwrap().unwrap();
    assert_eq!(
        row.first_name.as_deref(),
        Some("Ada"),
        "an empty answer keeps known names"
    );
}

async fn channel_alerts_are_raised_and_cleared(db: TestDatabase) {
    let store = db.open().await;
    let channel = page(&store, "100").await;
    assert_eq!(store.get_channel(channel).await.unwrap().alert, None);
    let alert = ChannelAlert {
        kind: "credentials_rejected".into(),
        message: "Graph error 190: token expired".into(),
        code: Some(190),
        since: Millis(1_800_000_000_000),
    };
    store
        .set_channel_alert(channel, Some(&alert))
        .await
        .unwrap();
    assert_eq!(
        store.get_channel(channel).await.unwrap().alert,
        Some(alert.clone())
    );
    assert_eq!(store.list_channels().await.unwrap()[0].alert, Some(alert));
    store.set_channel_alert(channel, None).await.unwrap();
    assert_eq!(store.get_channel(channel).await.unwrap().alert, None);
}

async fn attribute_keys_are_declared_per_channel(db: TestDatabase) {
    let store = db.open().await;
    let (a, b) = (page(&store, "100").await, page(&store, "200").await);
    assert!(
        store
            .get_channel(a)
            .await
            .unwrap()
            .attribute_keys
            .is_empty()
    );
    let keys = vec!["budget".to_owned(), "gift_for".to_owned()];
    store.set_attribute_keys(a, &keys).await.unwrap();
    assert_eq!(store.get_channel(a).await.unwrap().attribute_keys, keys);
    assert!(
        store
            .get_channel(b)
            .await
            .unwrap()
            .attribute_keys
            .is_empty()
    );
    assert!(matches!(
        store.set_attribute_keys(ChannelId(b.0 + 99), &keys).await,
        Err(StoreError::NotFound)
    ));
}

async fn live_nodes_are_counted_by_heartbeat(db: TestDatabase) {
    let store = db.open().await;
    let t = Millis(1_800_000_000_000);
    assert_eq!(store.heartbeat("a", t, 10_000).await.unwrap(), 1);
    assert_eq!(
        store
            .heartbeat("b", t.plus_millis(1_000), 10_000)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .heartbeat("a", t.plus_millis(2_000), 10_000)
            .await
            .unwrap(),
        2
    );
    // "b" stopped beating: after the window only "a" counts.
    assert_eq!(
        store
            .heartbeat("a", t.plus_millis(12_000), 10_000)
            .await
            .unwrap(),
        1
    );
}

on_both_backends!(
    live_nodes_are_counted_by_heartbeat,
    subscription_changes_once_and_is_read_back,
    attributes_merge_and_remove,
    profiles_are_fetched_once_and_keep_known_names,
    channel_alerts_are_raised_and_cleared,
    attribute_keys_are_declared_per_channel
);
