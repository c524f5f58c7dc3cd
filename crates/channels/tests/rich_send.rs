//! Rich messages (buttons, quick replies, media, cards) sent by both clients to the real
//! emulator, which validates them independently against protocols.md.

use bytes::Bytes;
use serde_json::{Value, json};
use switchboard_channels::messenger::{MessagingType, MessengerClient};
use switchboard_channels::telegram::TelegramClient;
use switchboard_channels::{Delivered, MediaInput, MediaSet, http_client};
use switchboard_domain::{
    Button, Card, ChannelKind, MediaKind, MediaSource, MessageBody, OutgoingMessage, Psid,
    QuickReply, SendErrorClass, TelegramChatId,
};
use switchboard_emulator::{
    BotSpec, CallRecord, Emulator, EmulatorConfig, EmulatorHandle, Fault, FaultRule, PageSpec,
    Platform, TelegramUser,
};

const PAGE_ID: &str = "104857600123";
const PAGE_TOKEN: &str = "EAAGrichPageToken";
const APP_SECRET: &str = "rich-app-secret";
const PSID: &str = "7700112233";
const BOT_TOKEN: &str = "5550001:AAHrichBotToken";
const CHAT: i64 = 424242;

async fn emulator() -> EmulatorHandle {
    Emulator::start(EmulatorConfig {
        telegram_rate_limits: false,
        ..Default::default()
    })
    .await
    .expect("start emulator")
}

fn messenger(emu: &EmulatorHandle) -> MessengerClient {
    emu.add_page(PageSpec::new(PAGE_ID, PAGE_TOKEN, APP_SECRET));
    emu.messenger_register_user(PAGE_ID, PSID);
    MessengerClient::new(http_client(), &emu.graph_api_url(), PAGE_TOKEN)
}

fn telegram(emu: &EmulatorHandle) -> TelegramClient {
    emu.add_bot(BotSpec::new(BOT_TOKEN, "rich_bot"));
    emu.telegram_register_user(BOT_TOKEN, TelegramUser::new(CHAT, "Ann"));
    TelegramClient::new(http_client(), &emu.telegram_api_url(), BOT_TOKEN)
}

async fn m_send(
    client: &MessengerClient,
    msg: &OutgoingMessage,
    media: &MediaSet,
) -> Result<Delivered, switchboard_domain::SendError> {
    client
        .send_message(
            &Psid::parse(PSID).unwrap(),
            msg,
            &MessagingType::Response,
            Some("sb:1"),
            None,
            media,
        )
        .await
}

async fn t_send(
    client: &TelegramClient,
    msg: &OutgoingMessage,
    media: &MediaSet,
) -> Result<Delivered, switchboard_domain::SendError> {
    client.send_message(TelegramChatId(CHAT), msg, media).await
}

fn last(emu: &EmulatorHandle, platform: Platform, method: &str) -> CallRecord {
    emu.calls_matching(platform, method)
        .pop()
        .unwrap_or_else(|| panic!("no {method} call"))
}

fn postback(title: &str, payload: &str) -> Button {
    Button::Postback {
        title: title.into(),
        payload: payload.into(),
    }
}

fn url_button(title: &str, url: &str) -> Button {
    Button::Url {
        title: title.into(),
        url: url.into(),
    }
}

fn phone_button(title: &str, number: &str) -> Button {
    Button::Phone {
        title: title.into(),
        number: number.into(),
    }
}

fn text_qr(title: &str, payload: &str) -> QuickReply {
    QuickReply::Text {
        title: title.into(),
        payload: payload.into(),
        image_url: None,
    }
}

fn file(kind: MediaKind) -> MediaInput {
    let (filename, mime_type) = match kind {
        MediaKind::Image => ("shoe.png", "image/png"),
        MediaKind::Video => ("clip.mp4", "video/mp4"),
        MediaKind::Audio => ("jingle.mp3", "audio/mpeg"),
        MediaKind::File => ("price list.pdf", "application/pdf"),
    };
    MediaInput::File {
        bytes: Bytes::from(vec![7u8; 1500]),
        filename: filename.into(),
        mime_type: mime_type.into(),
    }
}

fn media_msg(kind: MediaKind, media_id: i64, caption: Option<&str>) -> OutgoingMessage {
    OutgoingMessage {
        body: MessageBody::Media {
            kind,
            media: MediaSource::Uploaded { media_id },
            caption: caption.map(str::to_owned),
            buttons: vec![],
        },
        quick_replies: vec![],
    }
}

const KINDS: [MediaKind; 4] = [
    MediaKind::Image,
    MediaKind::Video,
    MediaKind::Audio,
    MediaKind::File,
];

// ------------------------------------------------------------------ Messenger

#[tokio::test]
async fn messenger_text_with_buttons_and_quick_replies() {
    let emu = emulator().await;
    let client = messenger(&emu);
    let msg = OutgoingMessage {
        body: MessageBody::Text {
            text: "How can we help?".into(),
            buttons: vec![
                url_button("Shop", "https://shop.example/"),
                postback("Talk to us", "HUMAN"),
                phone_button("Call", "+390612345678"),
            ],
        },
        quick_replies: vec![
            text_qr("Orders", "ORDERS"),
            QuickReply::Email,
            QuickReply::Phone { title: None },
        ],
    };
    msg.check(ChannelKind::Messenger).unwrap();
    let sent = m_send(&client, &msg, &MediaSet::new()).await.unwrap();
    assert!(sent.platform_message_id.starts_with("m_"));
    assert!(sent.learned.is_empty());
    let call = last(&emu, Platform::Messenger, "messages");
    assert!(call.is_success(), "{:?}", call.response);
    assert_eq!(call.request["messaging_type"], "RESPONSE");
    assert_eq!(
        call.request["message"],
        json!({
            "attachment": {"type": "template", "payload": {
                "template_type": "button",
                "text": "How can we help?",
                "buttons": [
                    {"type": "web_url", "title": "Shop", "url": "https://shop.example/"},
                    {"type": "postback", "title": "Talk to us", "payload": "HUMAN"},
                    {"type": "phone_number", "title": "Call", "payload": "+390612345678"},
                ],
            }},
            "quick_replies": [
                {"content_type": "text", "title": "Orders", "payload": "ORDERS"},
                {"content_type": "user_email"},
                {"content_type": "user_phone_number"},
            ],
            "metadata": "sb:1",
        })
    );

    // Plain text stays plain, and send_text still works through the same path.
    let receipt = client
        .send_text(
            &Psid::parse(PSID).unwrap(),
            "hello",
            &MessagingType::MessageTag("HUMAN_AGENT".into()),
            None,
        )
        .await
        .unwrap();
    let call = last(&emu, Platform::Messenger, "messages");
    assert_eq!(call.response["message_id"], receipt.platform_message_id);
    assert_eq!(call.request["message"], json!({"text": "hello"}));
    assert_eq!(call.request["tag"], "HUMAN_AGENT");
}

#[tokio::test]
async fn messenger_uploads_each_kind_once_then_reuses_the_attachment_id() {
    let emu = emulator().await;
    let client = messenger(&emu);
    for (i, kind) in KINDS.into_iter().enumerate() {
        let media_id = 100 + i as i64;
        let msg = media_msg(kind, media_id, None);
        let first = m_send(&client, &msg, &MediaSet::from([(media_id, file(kind))]))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let upload = last(&emu, Platform::Messenger, "message_attachments");
        assert!(upload.is_success(), "{kind:?}: {:?}", upload.response);
        assert_eq!(
            upload.request["message"],
            json!({"attachment": {"type": kind.as_str(), "payload": {"is_reusable": true}}})
        );
        let filedata = &upload.request["filedata"];
        assert_eq!(filedata["upload"], true);
        assert_eq!(filedata["size"], 1500);
        let expected_type = match kind {
            MediaKind::Image => "image/png",
            MediaKind::Video => "video/mp4",
            MediaKind::Audio => "audio/mpeg",
            MediaKind::File => "application/pdf",
        };
        assert_eq!(filedata["content_type"], expected_type);
        let attachment_id = upload.response["attachment_id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(first.learned, vec![(media_id, attachment_id.clone())]);
        let send = last(&emu, Platform::Messenger, "messages");
        assert!(send.is_success(), "{kind:?}: {:?}", send.response);
        assert_eq!(
            send.request["message"]["attachment"],
            json!({"type": kind.as_str(), "payload": {"attachment_id": attachment_id}})
        );

        // Second send: the learned id, no bytes, no upload.
        let uploads_before = emu.count_calls(Platform::Messenger, "message_attachments", false);
        let media = MediaSet::from([(media_id, MediaInput::PlatformRef(attachment_id.clone()))]);
        let second = m_send(&client, &msg, &media).await.unwrap();
        assert!(second.learned.is_empty());
        assert_eq!(
            emu.count_calls(Platform::Messenger, "message_attachments", false),
            uploads_before
        );
        let send = last(&emu, Platform::Messenger, "messages");
        assert!(send.is_success(), "{kind:?}: {:?}", send.response);
        assert_eq!(send.response["message_id"], second.platform_message_id);
        assert_eq!(
            send.request["message"]["attachment"]["payload"],
            json!({"attachment_id": attachment_id})
        );
    }
}

#[tokio::test]
async fn messenger_media_with_buttons_is_a_media_template() {
    let emu = emulator().await;
    let client = messenger(&emu);
    let mut msg = media_msg(MediaKind::Video, 9, None);
    if let MessageBody::Media { buttons, .. } = &mut msg.body {
        buttons.push(url_button("Watch more", "https://shop.example/videos"));
    }
    msg.quick_replies.push(text_qr("Later", "LATER"));
    msg.check(ChannelKind::Messenger).unwrap();
    let sent = m_send(
        &client,
        &msg,
        &MediaSet::from([(9, file(MediaKind::Video))]),
    )
    .await
    .unwrap();
    let id = &sent.learned[0].1;
    let send = last(&emu, Platform::Messenger, "messages");
    assert!(send.is_success(), "{:?}", send.response);
    assert_eq!(
        send.request["message"]["attachment"]["payload"],
        json!({"template_type": "media", "elements": [{
            "media_type": "video", "attachment_id": id,
            "buttons": [{"type": "web_url", "title": "Watch more", "url": "https://shop.example/videos"}],
        }]})
    );
    assert_eq!(
        send.request["message"]["quick_replies"][0]["payload"],
        "LATER"
    );
}

#[tokio::test]
async fn messenger_media_by_url() {
    let emu = emulator().await;
    let client = messenger(&emu);
    // A URL source has no media_id: nothing to learn.
    let msg = OutgoingMessage {
        body: MessageBody::Media {
            kind: MediaKind::Image,
            media: MediaSource::Url {
                url: "https://cdn.example/a.png".into(),
            },
            caption: None,
            buttons: vec![],
        },
        quick_replies: vec![],
    };
    let sent = m_send(&client, &msg, &MediaSet::new()).await.unwrap();
    assert!(sent.learned.is_empty());
    let send = last(&emu, Platform::Messenger, "messages");
    assert_eq!(
        send.request["message"]["attachment"]["payload"],
        json!({"url": "https://cdn.example/a.png", "is_reusable": true})
    );
    // An uploaded item the dispatcher offers by public URL: the reply's attachment_id is kept.
    let sent = m_send(
        &client,
        &media_msg(MediaKind::File, 3, None),
        &MediaSet::from([(3, MediaInput::PublicUrl("https://sb.example/m/3".into()))]),
    )
    .await
    .unwrap();
    let send = last(&emu, Platform::Messenger, "messages");
    assert_eq!(
        sent.learned,
        vec![(
            3,
            send.response["attachment_id"].as_str().unwrap().to_owned()
        )]
    );
    assert_eq!(
        emu.count_calls(Platform::Messenger, "message_attachments", false),
        0
    );
}

#[tokio::test]
async fn messenger_card_carousel_is_a_generic_template() {
    let emu = emulator().await;
    let client = messenger(&emu);
    let card = |i: i64, image: Option<MediaSource>| Card {
        title: format!("Shoe {i}"),
        subtitle: Some(format!("Size {}", 40 + i)),
        image,
        default_url: Some(format!("https://shop.example/p/{i}")),
        buttons: vec![postback("Buy", &format!("BUY_{i}"))],
    };
    let msg = OutgoingMessage {
        body: MessageBody::Cards {
            cards: vec![
                card(
                    1,
                    Some(MediaSource::Url {
                        url: "https://cdn.example/1.jpg".into(),
                    }),
                ),
                card(2, Some(MediaSource::Uploaded { media_id: 22 })),
                card(3, None),
            ],
        },
        quick_replies: vec![text_qr("More", "MORE")],
    };
    msg.check(ChannelKind::Messenger).unwrap();
    let media = MediaSet::from([(22, MediaInput::PublicUrl("https://sb.example/m/22".into()))]);
    let sent = m_send(&client, &msg, &media).await.unwrap();
    assert!(sent.learned.is_empty());
    let send = last(&emu, Platform::Messenger, "messages");
    assert!(send.is_success(), "{:?}", send.response);
    let payload = &send.request["message"]["attachment"]["payload"];
    assert_eq!(payload["template_type"], "generic");
    let elements = payload["elements"].as_array().unwrap();
    assert_eq!(elements.len(), 3);
    assert_eq!(
        elements[0],
        json!({"title": "Shoe 1", "subtitle": "Size 41", "image_url": "https://cdn.example/1.jpg",
               "default_action": {"type": "web_url", "url": "https://shop.example/p/1"},
               "buttons": [{"type": "postback", "title": "Buy", "payload": "BUY_1"}]})
    );
    assert_eq!(elements[1]["image_url"], "https://sb.example/m/22");
    assert!(elements[2].get("image_url").is_none());
}

#[tokio::test]
async fn messenger_upload_failure_means_not_delivered_and_no_send() {
    let emu = emulator().await;
    let client = messenger(&emu);
    let msg = media_msg(MediaKind::Image, 5, None);
    let media = MediaSet::from([(5, file(MediaKind::Image))]);
    for fault in [
        Fault::graph(2, None),
        Fault::ServerError,
        Fault::DropConnection,
        Fault::graph(190, None),
    ] {
        emu.inject(
            FaultRule::next(1, fault.clone())
                .on_platform(Platform::Messenger)
                .on_method("message_attachments"),
        );
        let err = m_send(&client, &msg, &media).await.unwrap_err();
        assert!(err.not_delivered_to_platform, "{fault:?}: {err}");
        assert!(err.detail.contains("uploading media 5"), "{err}");
        assert!(!err.detail.contains(PAGE_TOKEN), "{err}");
        if matches!(fault, Fault::GraphError { code: 190, .. }) {
            assert_eq!(err.class, SendErrorClass::AuthBroken);
        } else {
            assert!(err.class.is_retryable(), "{fault:?}: {err:?}");
        }
    }
    assert_eq!(emu.count_calls(Platform::Messenger, "messages", false), 0);
    assert_eq!(
        emu.count_calls(Platform::Messenger, "message_attachments", false),
        4
    );
    // Once the platform is healthy again the same message goes through.
    assert_eq!(
        m_send(&client, &msg, &media).await.unwrap().learned.len(),
        1
    );
}

#[tokio::test]
async fn messenger_refuses_what_it_cannot_render_without_calling_graph() {
    let emu = emulator().await;
    let client = messenger(&emu);
    let card_with = |image| OutgoingMessage {
        body: MessageBody::Cards {
            cards: vec![Card {
                title: "T".into(),
                subtitle: None,
                image: Some(image),
                default_url: None,
                buttons: vec![],
            }],
        },
        quick_replies: vec![],
    };
    let media = MediaSet::from([
        (1, file(MediaKind::Image)),
        (2, MediaInput::PlatformRef("123".into())),
    ]);
    for msg in [
        media_msg(MediaKind::Image, 99, None),
        card_with(MediaSource::Uploaded { media_id: 1 }),
        card_with(MediaSource::Uploaded { media_id: 2 }),
        card_with(MediaSource::Uploaded { media_id: 3 }),
        media_msg(MediaKind::Image, 1, Some("captions are Telegram-only")),
    ] {
        let err = m_send(&client, &msg, &media).await.unwrap_err();
        assert_eq!(err.class, SendErrorClass::BadRequest, "{err}");
        assert!(err.not_delivered_to_platform, "{err}");
    }
    assert!(emu.calls().is_empty(), "{:?}", emu.calls());
}

#[tokio::test]
async fn messenger_audio_upload_always_carries_an_audio_type() {
    let emu = emulator().await;
    let client = messenger(&emu);
    let media = MediaSet::from([(
        4,
        MediaInput::File {
            bytes: Bytes::from_static(b"OggS...."),
            filename: "voice.ogg".into(),
            mime_type: "application/octet-stream".into(),
        },
    )]);
    m_send(&client, &media_msg(MediaKind::Audio, 4, None), &media)
        .await
        .unwrap();
    let upload = last(&emu, Platform::Messenger, "message_attachments");
    assert_eq!(upload.request["filedata"]["content_type"], "audio/ogg");

    // The emulator enforces A17 on its own: audio bytes without audio/* are refused.
    let form = reqwest::multipart::Form::new()
        .text(
            "message",
            json!({"attachment": {"type": "audio", "payload": {"is_reusable": true}}}).to_string(),
        )
        .part(
            "filedata",
            reqwest::multipart::Part::bytes(b"x".to_vec())
                .file_name("a.ogg")
                .mime_str("application/octet-stream")
                .unwrap(),
        );
    let res = http_client()
        .post(format!(
            "{}/me/message_attachments?access_token={PAGE_TOKEN}",
            emu.graph_api_url()
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["error_subcode"], 2018047);
}

// ------------------------------------------------------------------ Telegram

#[tokio::test]
async fn telegram_text_with_buttons_and_quick_replies() {
    let emu = emulator().await;
    let client = telegram(&emu);
    let msg = OutgoingMessage {
        body: MessageBody::Text {
            text: "How can we help?".into(),
            buttons: vec![
                url_button("Shop", "https://shop.example/"),
                postback("Talk to us", "HUMAN"),
                phone_button("Call", "+390612345678"),
            ],
        },
        quick_replies: vec![text_qr("Orders", "ORDERS"), QuickReply::Email],
    };
    msg.check(ChannelKind::Telegram).unwrap();
    let sent = t_send(&client, &msg, &MediaSet::new()).await.unwrap();
    let call = last(&emu, Platform::Telegram, "sendMessage");
    assert!(call.is_success(), "{:?}", call.response);
    assert_eq!(
        call.response["result"]["message_id"].to_string(),
        sent.platform_message_id
    );
    assert_eq!(call.request["chat_id"], CHAT);
    assert_eq!(
        call.request["text"],
        "How can we help?\nCall: +390612345678"
    );
    assert_eq!(
        call.request["reply_markup"],
        json!({"inline_keyboard": [
            [{"text": "Shop", "url": "https://shop.example/"}],
            [{"text": "Talk to us", "callback_data": "HUMAN"}],
            [{"text": "Orders", "callback_data": "ORDERS"}],
        ]})
    );
    assert_eq!(
        call.response["result"]["reply_markup"],
        call.request["reply_markup"]
    );

    // A phone quick reply is a one-time "share contact" reply keyboard.
    let msg = OutgoingMessage {
        body: MessageBody::Text {
            text: "Your number?".into(),
            buttons: vec![],
        },
        quick_replies: vec![QuickReply::Phone {
            title: Some("Share number".into()),
        }],
    };
    msg.check(ChannelKind::Telegram).unwrap();
    t_send(&client, &msg, &MediaSet::new()).await.unwrap();
    let call = last(&emu, Platform::Telegram, "sendMessage");
    assert!(call.is_success(), "{:?}", call.response);
    assert_eq!(
        call.request["reply_markup"],
        json!({"keyboard": [[{"text": "Share number", "request_contact": true}]],
               "one_time_keyboard": true, "resize_keyboard": true})
    );

    // send_text keeps its shape.
    client
        .send_text(TelegramChatId(CHAT), "plain")
        .await
        .unwrap();
    let call = last(&emu, Platform::Telegram, "sendMessage");
    assert_eq!(call.request, json!({"chat_id": CHAT, "text": "plain"}));
}

#[tokio::test]
async fn telegram_uploads_each_kind_once_then_reuses_the_file_id() {
    let emu = emulator().await;
    let client = telegram(&emu);
    for (i, kind) in KINDS.into_iter().enumerate() {
        let (method, field) = match kind {
            MediaKind::Image => ("sendPhoto", "photo"),
            MediaKind::Video => ("sendVideo", "video"),
            MediaKind::Audio => ("sendAudio", "audio"),
            MediaKind::File => ("sendDocument", "document"),
        };
        let media_id = 200 + i as i64;
        let mut msg = media_msg(kind, media_id, Some("New <arrivals> & more"));
        if let MessageBody::Media { buttons, .. } = &mut msg.body {
            buttons.push(postback("Buy", "BUY"));
        }
        msg.check(ChannelKind::Telegram).unwrap();
        let first = t_send(&client, &msg, &MediaSet::from([(media_id, file(kind))]))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let call = last(&emu, Platform::Telegram, method);
        assert!(call.is_success(), "{kind:?}: {:?}", call.response);
        assert_eq!(call.request["chat_id"], CHAT.to_string());
        let upload = &call.request[field];
        assert_eq!(upload["upload"], true, "{kind:?}: {upload}");
        assert_eq!(upload["size"], 1500);
        assert!(upload["filename"].as_str().unwrap().contains('.'));
        // Plain caption: no parse mode, nothing escaped.
        assert_eq!(call.request["caption"], "New <arrivals> & more");
        assert!(call.request.get("parse_mode").is_none());
        assert_eq!(
            serde_json::from_str::<Value>(call.request["reply_markup"].as_str().unwrap()).unwrap(),
            json!({"inline_keyboard": [[{"text": "Buy", "callback_data": "BUY"}]]})
        );
        let result = &call.response["result"];
        let expected = match &result[field] {
            Value::Array(sizes) => sizes.last().unwrap()["file_id"].clone(),
            obj => obj["file_id"].clone(),
        };
        assert_eq!(
            first.learned,
            vec![(media_id, expected.as_str().unwrap().to_owned())]
        );
        let file_id = first.learned[0].1.clone();

        // Second send: the file_id string, no bytes.
        let media = MediaSet::from([(media_id, MediaInput::PlatformRef(file_id.clone()))]);
        let second = t_send(&client, &msg, &media).await.unwrap();
        assert!(second.learned.is_empty());
        let call = last(&emu, Platform::Telegram, method);
        assert!(call.is_success(), "{kind:?}: {:?}", call.response);
        assert_eq!(call.request[field], file_id);
        assert_eq!(call.request["chat_id"], CHAT);
        let result = &call.response["result"];
        // A photo comes back in all its sizes; the id sent is the largest's.
        let echoed = match &result[field] {
            Value::Array(sizes) => sizes.last().unwrap()["file_id"].clone(),
            obj => obj["file_id"].clone(),
        };
        assert_eq!(echoed, file_id, "the emulator took it as a file_id");
    }
    assert_eq!(emu.calls().len(), 8, "one Bot API call per message");
}

#[tokio::test]
async fn telegram_single_card_with_image_is_an_html_photo() {
    let emu = emulator().await;
    let client = telegram(&emu);
    let msg = OutgoingMessage {
        body: MessageBody::Cards {
            cards: vec![Card {
                title: "<b>& Co".into(),
                subtitle: Some("Now 5 > 4".into()),
                image: Some(MediaSource::Uploaded { media_id: 31 }),
                default_url: Some("https://shop.example/p?id=1&ref=\"tg\"".into()),
                buttons: vec![
                    url_button("Open", "https://shop.example/p"),
                    phone_button("Call", "+441234567890"),
                ],
            }],
        },
        quick_replies: vec![text_qr("More", "MORE")],
    };
    msg.check(ChannelKind::Telegram).unwrap();
    let sent = t_send(
        &client,
        &msg,
        &MediaSet::from([(31, file(MediaKind::Image))]),
    )
    .await
    .unwrap();
    assert_eq!(sent.learned.len(), 1);
    let call = last(&emu, Platform::Telegram, "sendPhoto");
    assert!(call.is_success(), "{:?}", call.response);
    assert_eq!(call.request["parse_mode"], "HTML");
    assert_eq!(
        call.request["caption"],
        "<a href=\"https://shop.example/p?id=1&amp;ref=&quot;tg&quot;\"><b>&lt;b&gt;&amp; Co</b></a>\nNow 5 &gt; 4\nCall: +441234567890"
    );
    // What the person sees, after Telegram parsed the HTML: the title verbatim.
    assert_eq!(
        call.response["result"]["caption"],
        "<b>& Co\nNow 5 > 4\nCall: +441234567890"
    );
    assert_eq!(
        serde_json::from_str::<Value>(call.request["reply_markup"].as_str().unwrap()).unwrap(),
        json!({"inline_keyboard": [[{"text": "Open", "url": "https://shop.example/p"}],
                                   [{"text": "More", "callback_data": "MORE"}]]})
    );
}

#[tokio::test]
async fn telegram_card_without_image_and_split_carousels() {
    let emu = emulator().await;
    let client = telegram(&emu);
    let card = |i: usize| Card {
        title: format!("<b>&{i}"),
        subtitle: None,
        image: (i == 1).then(|| MediaSource::Url {
            url: "https://cdn.example/1.jpg".into(),
        }),
        default_url: None,
        buttons: vec![postback("Pick", &format!("PICK_{i}"))],
    };
    let carousel = OutgoingMessage {
        body: MessageBody::Cards {
            cards: (0..3).map(card).collect(),
        },
        quick_replies: vec![text_qr("Done", "DONE")],
    };
    carousel.check(ChannelKind::Telegram).unwrap();
    // Unsplit, it is refused before any call.
    let err = t_send(&client, &carousel, &MediaSet::new())
        .await
        .unwrap_err();
    assert_eq!(err.class, SendErrorClass::BadRequest);
    assert!(err.not_delivered_to_platform);
    assert!(emu.calls().is_empty());

    for part in carousel.split_for(ChannelKind::Telegram) {
        t_send(&client, &part, &MediaSet::new()).await.unwrap();
    }
    let calls = emu.calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["sendMessage", "sendPhoto", "sendMessage"]);
    assert!(calls.iter().all(CallRecord::is_success), "{calls:?}");
    assert_eq!(calls[0].request["text"], "<b>&lt;b&gt;&amp;0</b>");
    assert_eq!(calls[0].response["result"]["text"], "<b>&0");
    assert_eq!(calls[1].request["photo"], "https://cdn.example/1.jpg");
    assert_eq!(
        calls[2].request["reply_markup"]["inline_keyboard"],
        json!([[{"text": "Pick", "callback_data": "PICK_2"}], [{"text": "Done", "callback_data": "DONE"}]])
    );
}

#[tokio::test]
async fn telegram_send_failure_keeps_numeric_classification() {
    let emu = emulator().await;
    let client = telegram(&emu);
    emu.inject(
        FaultRule::next(1, Fault::telegram_flood(7))
            .on_platform(Platform::Telegram)
            .on_method("sendPhoto"),
    );
    let err = t_send(
        &client,
        &media_msg(MediaKind::Image, 1, None),
        &MediaSet::from([(1, file(MediaKind::Image))]),
    )
    .await
    .unwrap_err();
    assert_eq!(err.class, SendErrorClass::RateLimited);
    assert_eq!(err.retry_after_secs, Some(7));
    assert!(!err.detail.contains(BOT_TOKEN));
}

// ------------------------------------------------------------------ agreement with the domain check

mod agreement {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    fn chars() -> impl Strategy<Value = char> {
        prop_oneof![
            6 => proptest::char::range('a', 'z'),
            1 => Just(' '),
            1 => Just('<'),
            1 => Just('&'),
            1 => Just('"'),
            1 => Just('é'),
            1 => Just('€'),
            1 => Just('日'),
            1 => Just('😀'),
        ]
    }

    fn text(min: usize, max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(chars(), min..=max).prop_map(String::from_iter)
    }

    /// Mostly short, sometimes around the platforms' limits.
    fn body_text() -> BoxedStrategy<String> {
        prop_oneof![
            6 => text(1, 40),
            1 => text(630, 650),
            1 => text(1990, 2010),
            1 => text(4090, 4100),
        ]
        .boxed()
    }

    fn url() -> impl Strategy<Value = String> {
        "[a-z0-9]{0,12}".prop_map(|p| format!("https://shop.example/{p}?a=1&b=2"))
    }

    fn button() -> impl Strategy<Value = Button> {
        prop_oneof![
            (text(1, 22), url()).prop_map(|(title, url)| Button::Url { title, url }),
            (text(1, 22), text(1, 30))
                .prop_map(|(title, payload)| Button::Postback { title, payload }),
            (text(1, 22), "[0-9]{6,16}").prop_map(|(title, digits)| Button::Phone {
                title,
                number: format!("+{digits}")
            }),
        ]
    }

    fn quick_reply() -> impl Strategy<Value = QuickReply> {
        prop_oneof![
            8 => (text(1, 22), text(1, 30), proptest::option::of(url())).prop_map(
                |(title, payload, image_url)| QuickReply::Text { title, payload, image_url }
            ),
            1 => Just(QuickReply::Email),
            1 => proptest::option::of(text(1, 22)).prop_map(|title| QuickReply::Phone { title }),
        ]
    }

    fn media_source(ids: std::ops::RangeInclusive<i64>) -> impl Strategy<Value = MediaSource> {
        prop_oneof![
            3 => ids.prop_map(|media_id| MediaSource::Uploaded { media_id }),
            1 => url().prop_map(|url| MediaSource::Url { url }),
        ]
    }

    fn kind() -> impl Strategy<Value = MediaKind> {
        prop_oneof![
            Just(MediaKind::Image),
            Just(MediaKind::Video),
            Just(MediaKind::Audio),
            Just(MediaKind::File),
        ]
    }

    fn card() -> impl Strategy<Value = Card> {
        (
            text(1, 82),
            proptest::option::of(text(1, 82)),
            proptest::option::of(media_source(11..=20)),
            proptest::option::of(url()),
            proptest::collection::vec(button(), 0..=3),
        )
            .prop_map(|(title, subtitle, image, default_url, buttons)| Card {
                title,
                subtitle,
                image,
                default_url,
                buttons,
            })
    }

    fn message() -> impl Strategy<Value = OutgoingMessage> {
        let body = prop_oneof![
            3 => (body_text(), proptest::collection::vec(button(), 0..=4))
                .prop_map(|(text, buttons)| MessageBody::Text { text, buttons }),
            2 => (
                kind(),
                media_source(1..=3),
                proptest::option::of(prop_oneof![4 => text(0, 40), 1 => text(1015, 1030)]),
                proptest::collection::vec(button(), 0..=3),
            )
                .prop_map(|(kind, media, caption, buttons)| MessageBody::Media {
                    kind,
                    media,
                    caption,
                    buttons,
                }),
            2 => proptest::collection::vec(card(), 1..=11).prop_map(|cards| MessageBody::Cards { cards }),
        ];
        (body, proptest::collection::vec(quick_reply(), 0..=14)).prop_map(
            |(body, quick_replies)| OutgoingMessage {
                body,
                quick_replies,
            },
        )
    }

    fn media_for(kind: ChannelKind) -> MediaSet {
        let mut set = MediaSet::new();
        for id in 1..=3 {
            set.insert(id, file(MediaKind::Image));
        }
        for id in 11..=20 {
            set.insert(
                id,
                match kind {
                    // Meta fetches card images: the dispatcher offers our public URL.
                    ChannelKind::Messenger => {
                        MediaInput::PublicUrl(format!("https://sb.example/m/{id}"))
                    }
                    ChannelKind::Telegram => file(MediaKind::Image),
                },
            );
        }
        set
    }

    #[test]
    fn messages_that_pass_the_domain_check_are_accepted_by_the_emulator() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emu = rt.block_on(emulator());
        let m = messenger(&emu);
        let t = telegram(&emu);
        let m_media = media_for(ChannelKind::Messenger);
        let t_media = media_for(ChannelKind::Telegram);
        // About one generated message in five passes each platform's domain check: 300 cases
        // gave 53–65 per platform in three runs, so the floor of 20 below fails only when the
        // generator really stopped reaching a platform (160 cases once gave 18).
        let mut runner = TestRunner::new(Config {
            cases: 300,
            failure_persistence: None,
            ..Config::default()
        });
        let accepted = std::cell::Cell::new([0usize; 2]);
        runner
            .run(&message(), |msg| {
                for (i, kind) in [ChannelKind::Messenger, ChannelKind::Telegram]
                    .into_iter()
                    .enumerate()
                {
                    if msg.check(kind).is_err() {
                        continue;
                    }
                    let result = rt.block_on(async {
                        match kind {
                            ChannelKind::Messenger => {
                                m_send(&m, &msg, &m_media).await.map(|_| ())
                            }
                            ChannelKind::Telegram => {
                                for part in msg.clone().split_for(kind) {
                                    t_send(&t, &part, &t_media).await?;
                                }
                                Ok(())
                            }
                        }
                    });
                    if let Err(e) = result {
                        let call = emu.calls().pop();
                        return Err(TestCaseError::fail(format!(
                            "{kind:?}: passes the domain check but was refused: {e}\nlast call: {call:?}"
                        )));
                    }
                    let mut n = accepted.get();
                    n[i] += 1;
                    accepted.set(n);
                }
                Ok(())
            })
            .unwrap();
        let [m_ok, t_ok] = accepted.get();
        println!("accepted of 300: messenger {m_ok}, telegram {t_ok}");
        // The generator must actually exercise both platforms.
        assert!(
            m_ok >= 20 && t_ok >= 20,
            "accepted: messenger {m_ok}, telegram {t_ok}"
        );
    }

    #[test]
    fn near_limit_messages_pass_both_checks() {
        // Hand-picked boundaries, each just inside every limit at once.
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let emu = emulator().await;
            let m = messenger(&emu);
            let t = telegram(&emu);
            let at = |n: usize| "é".repeat(n);
            let buttons = || {
                vec![
                    postback(&at(20), &"p".repeat(64)),
                    url_button(&at(20), "https://shop.example/x"),
                    postback(&at(20), &"€".repeat(21)),
                ]
            };
            let qrs: Vec<QuickReply> = (0..13)
                .map(|i| text_qr(&at(20), &format!("Q{i}")))
                .collect();
            let cases = [
                (
                    ChannelKind::Messenger,
                    OutgoingMessage {
                        body: MessageBody::Text {
                            text: at(2000),
                            buttons: vec![],
                        },
                        quick_replies: qrs.clone(),
                    },
                ),
                (
                    ChannelKind::Messenger,
                    OutgoingMessage {
                        body: MessageBody::Text {
                            text: at(640),
                            buttons: buttons(),
                        },
                        quick_replies: qrs.clone(),
                    },
                ),
                (
                    ChannelKind::Telegram,
                    OutgoingMessage {
                        body: MessageBody::Text {
                            text: at(4096),
                            buttons: buttons(),
                        },
                        quick_replies: qrs.clone(),
                    },
                ),
                (
                    ChannelKind::Telegram,
                    OutgoingMessage {
                        body: MessageBody::Media {
                            kind: MediaKind::Image,
                            media: MediaSource::Uploaded { media_id: 1 },
                            caption: Some(at(1024)),
                            buttons: buttons(),
                        },
                        quick_replies: qrs.clone(),
                    },
                ),
                (
                    ChannelKind::Messenger,
                    OutgoingMessage {
                        body: MessageBody::Cards {
                            cards: (0..10)
                                .map(|_| Card {
                                    title: at(80),
                                    subtitle: Some(at(80)),
                                    image: Some(MediaSource::Uploaded { media_id: 11 }),
                                    default_url: Some("https://shop.example/".into()),
                                    buttons: buttons(),
                                })
                                .collect(),
                        },
                        quick_replies: qrs.clone(),
                    },
                ),
                (
                    ChannelKind::Telegram,
                    OutgoingMessage {
                        body: MessageBody::Cards {
                            cards: vec![Card {
                                title: "&".repeat(80),
                                subtitle: Some("<".repeat(80)),
                                image: Some(MediaSource::Uploaded { media_id: 11 }),
                                default_url: Some("https://shop.example/".into()),
                                buttons: buttons(),
                            }],
                        },
                        quick_replies: qrs.clone(),
                    },
                ),
            ];
            for (kind, msg) in cases {
                msg.check(kind)
                    .unwrap_or_else(|v| panic!("{kind:?}: {v:?}"));
                let media = media_for(kind);
                let result = match kind {
                    ChannelKind::Messenger => m_send(&m, &msg, &media).await,
                    ChannelKind::Telegram => t_send(&t, &msg, &media).await,
                };
                result.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
            }
        });
    }
}
