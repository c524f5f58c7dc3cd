//! Uploaded media and the per-channel platform handles, on SQLite and on PostgreSQL.

use switchboard_domain::{ChannelId, ChannelSettings, MediaKind, Millis, TelegramSettings};
use switchboard_storage::testing::TestDatabase;
use switchboard_storage::{NewChannel, NewMedia, Store, StoreError, on_both_backends};

async fn bot(store: &Store, id: &str) -> ChannelId {
    store
        .create_channel(NewChannel {
            name: format!("Bot {id}"),
            external_id: id.into(),
            settings: ChannelSettings::Telegram(TelegramSettings {
                bot_token: format!("{id}:token"),
                secret_token: "secret".into(),
                receive: Default::default(),
                rate_limits: None,
            }),
            default_reply: None,
        })
        .await
        .expect("create channel")
        .id
}

async fn bytes_round_trip_exactly(db: TestDatabase) {
    let store = db.open().await;
    // Every byte value, including NUL and invalid UTF-8, must survive both drivers.
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let info = store
        .create_media(NewMedia {
            kind: MediaKind::Image,
            filename: "mug.png".into(),
            mime_type: "image/png".into(),
            data: data.clone(),
        })
        .await
        .unwrap();
    assert_eq!(info.size_bytes, 70_000);
    assert_eq!(info.sha256.len(), 64);
    let (again, stored) = store.media_data(info.id).await.unwrap();
    assert_eq!(again, info);
    assert_eq!(stored, data);
    assert_eq!(store.get_media(info.id).await.unwrap(), info);
    let infos = store.media_infos(&[info.id, info.id + 1000]).await.unwrap();
    assert_eq!(infos.len(), 1);
    assert!(matches!(
        store.get_media(info.id + 1000).await,
        Err(StoreError::NotFound)
    ));
}

async fn platform_refs_are_per_channel_replaced_and_expire(db: TestDatabase) {
    let store = db.open().await;
    let (a, b) = (bot(&store, "111").await, bot(&store, "222").await);
    let media = store
        .create_media(NewMedia {
            kind: MediaKind::File,
            filename: "menu.pdf".into(),
            mime_type: "application/pdf".into(),
            data: b"%PDF-1.7".to_vec(),
        })
        .await
        .unwrap();
    let now = Millis(1_800_000_000_000);
    assert!(
        store
            .media_platform_refs(a, &[media.id], now)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .save_media_platform_refs(a, &[(media.id, "file-1".into())], now)
        .await
        .unwrap();
    store
        .save_media_platform_refs(a, &[(media.id, "file-2".into())], now)
        .await
        .unwrap();
    let refs = store
        .media_platform_refs(a, &[media.id], now)
        .await
        .unwrap();
    assert_eq!(refs.get(&media.id).map(String::as_str), Some("file-2"));
    // Another bot cannot use this bot's file_id.
    assert!(
        store
            .media_platform_refs(b, &[media.id], now)
            .await
            .unwrap()
            .is_empty()
    );
    // Messenger ids expire after 90 days; we stop trusting them well before.
    let later = now.plus_millis(85 * 24 * 3600 * 1000);
    assert!(
        store
            .media_platform_refs(a, &[media.id], later)
            .await
            .unwrap()
            .is_empty()
    );
}

on_both_backends!(
    bytes_round_trip_exactly,
    platform_refs_are_per_channel_replaced_and_expire,
    a_persona_is_remembered_per_channel_and_per_face
);

async fn a_persona_is_remembered_per_channel_and_per_face(db: TestDatabase) {
    let store = db.open().await;
    let (a, b) = (bot(&store, "31").await, bot(&store, "32").await);
    let pic = "https://shop.example/gifty.png";
    assert_eq!(
        store.persona_platform_id(a, "Gifty", pic).await.unwrap(),
        None
    );
    let saved = store
        .save_persona_platform_id(a, "Gifty", pic, "111", Millis(1))
        .await
        .unwrap();
    assert_eq!(saved, "111");
    // A second creator of the same persona loses the race: the first id stays the one used.
    let again = store
        .save_persona_platform_id(a, "Gifty", pic, "222", Millis(2))
        .await
        .unwrap();
    assert_eq!(again, "111");
    assert_eq!(
        store.persona_platform_id(a, "Gifty", pic).await.unwrap(),
        Some("111".into())
    );
    // Another channel, or a new picture, is another persona.
    assert_eq!(
        store.persona_platform_id(b, "Gifty", pic).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .persona_platform_id(a, "Gifty", "https://shop.example/new.png")
            .await
            .unwrap(),
        None
    );
}
