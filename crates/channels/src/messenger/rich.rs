//! Rendering an [`OutgoingMessage`] as a Send API `message` object (protocols.md A7).
//!
//! | ours | Messenger |
//! |---|---|
//! | text | `{"text":..}` |
//! | text + buttons | button template |
//! | media | `attachment` of its type with `attachment_id` (uploaded first if we only have bytes) or `url` + `is_reusable` |
//! | image/video + buttons | media template (needs an `attachment_id`) |
//! | cards | generic template; images by URL only (Meta fetches them) |
//! | quick replies | `quick_replies`: `text`, `user_email`, `user_phone_number` |
//!
//! What Messenger cannot show (a caption, buttons under audio or a file, a card image we have no
//! URL for) is refused with a permanent error before anything is sent; the domain check refuses
//! it earlier still.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchboard_domain::{
    Button, Card, MediaKind, MediaSource, MessageBody, OutgoingMessage, QuickReply, SendError,
};

use crate::media::{MediaInput, MediaSet, input, refused};

/// A media item that must be uploaded (`/me/message_attachments`) before the message can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingUpload<'a> {
    pub media_id: i64,
    pub kind: MediaKind,
    pub source: UploadSource<'a>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UploadSource<'a> {
    File {
        bytes: &'a Bytes,
        filename: &'a str,
        mime_type: &'a str,
    },
    /// Meta fetches the URL (a media template cannot take a URL of ours directly).
    Url(&'a str),
}

/// A `message` object ready to send, but for at most one upload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rendered<'a> {
    /// The Send API `message`. When `upload` is set, its `attachment_id` is `null` until
    /// [`fill_attachment_id`] puts the uploaded id there.
    pub message: Value,
    pub upload: Option<PendingUpload<'a>>,
    /// A media item sent by URL with `is_reusable`: the reply's `attachment_id` belongs to it.
    pub learn_from_reply: Option<i64>,
}

/// Renders `message`; fails (permanently, nothing sent) on what Messenger cannot carry.
pub(crate) fn render<'a>(
    message: &OutgoingMessage,
    media: &'a MediaSet,
) -> Result<Rendered<'a>, SendError> {
    let mut upload = None;
    let mut learn_from_reply = None;
    let mut out = match &message.body {
        MessageBody::Text { text, buttons } if buttons.is_empty() => json!({ "text": text }),
        MessageBody::Text { text, buttons } => template(json!({
            "template_type": "button",
            "text": text,
            "buttons": render_buttons(buttons),
        })),
        MessageBody::Media {
            kind,
            media: source,
            caption,
            buttons,
        } => {
            if caption.is_some() {
                return Err(refused("caption: Messenger attachments carry no caption"));
            }
            let with_buttons = !buttons.is_empty();
            if with_buttons && !matches!(kind, MediaKind::Image | MediaKind::Video) {
                return Err(refused(format!(
                    "buttons: Messenger allows buttons only under images and videos, not {}",
                    kind.as_str()
                )));
            }
            // What goes where the media is named: an attachment_id, or a URL.
            let reference = match source {
                MediaSource::Url { .. } if with_buttons => {
                    return Err(refused(
                        "media: Messenger media with buttons must be uploaded (media_id), not a URL",
                    ));
                }
                MediaSource::Url { url } => json!({ "url": url, "is_reusable": true }),
                MediaSource::Uploaded { media_id } => match input(media, *media_id, "media")? {
                    MediaInput::PlatformRef(id) => json!({ "attachment_id": id }),
                    MediaInput::File {
                        bytes,
                        filename,
                        mime_type,
                    } => {
                        upload = Some(PendingUpload {
                            media_id: *media_id,
                            kind: *kind,
                            source: UploadSource::File {
                                bytes,
                                filename,
                                mime_type,
                            },
                        });
                        json!({ "attachment_id": null })
                    }
                    MediaInput::PublicUrl(url) if with_buttons => {
                        upload = Some(PendingUpload {
                            media_id: *media_id,
                            kind: *kind,
                            source: UploadSource::Url(url),
                        });
                        json!({ "attachment_id": null })
                    }
                    MediaInput::PublicUrl(url) => {
                        learn_from_reply = Some(*media_id);
                        json!({ "url": url, "is_reusable": true })
                    }
                },
            };
            if with_buttons {
                let mut element = json!({
                    "media_type": kind.as_str(),
                    "buttons": render_buttons(buttons),
                });
                merge(&mut element, reference);
                template(json!({ "template_type": "media", "elements": [element] }))
            } else {
                json!({ "attachment": { "type": kind.as_str(), "payload": reference } })
            }
        }
        MessageBody::Cards { cards } => {
            if cards.is_empty() {
                return Err(refused("cards: needs at least one card"));
            }
            let elements = cards
                .iter()
                .enumerate()
                .map(|(i, card)| render_card(card, media, &format!("cards[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            template(json!({ "template_type": "generic", "elements": elements }))
        }
    };
    if !message.quick_replies.is_empty() {
        out["quick_replies"] = Value::Array(
            message
                .quick_replies
                .iter()
                .map(render_quick_reply)
                .collect(),
        );
    }
    Ok(Rendered {
        message: out,
        upload,
        learn_from_reply,
    })
}

fn template(payload: Value) -> Value {
    json!({ "attachment": { "type": "template", "payload": payload } })
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(into), Value::Object(from)) = (into.as_object_mut(), from) {
        into.extend(from);
    }
}

fn render_buttons(buttons: &[Button]) -> Value {
    Value::Array(buttons.iter().map(render_button).collect())
}

fn render_button(button: &Button) -> Value {
    match button {
        Button::Url { title, url } => json!({ "type": "web_url", "title": title, "url": url }),
        Button::Postback { title, payload } => {
            json!({ "type": "postback", "title": title, "payload": payload })
        }
        Button::Phone { title, number } => {
            json!({ "type": "phone_number", "title": title, "payload": number })
        }
    }
}

fn render_quick_reply(qr: &QuickReply) -> Value {
    match qr {
        QuickReply::Text {
            title,
            payload,
            image_url,
        } => {
            let mut v = json!({ "content_type": "text", "title": title, "payload": payload });
            if let Some(url) = image_url {
                v["image_url"] = Value::String(url.clone());
            }
            v
        }
        QuickReply::Email => json!({ "content_type": "user_email" }),
        // Messenger shows the number from the profile; our title is for Telegram.
        QuickReply::Phone { .. } => json!({ "content_type": "user_phone_number" }),
    }
}

fn render_card(card: &Card, media: &MediaSet, path: &str) -> Result<Value, SendError> {
    let mut element = Map::new();
    element.insert("title".into(), Value::String(card.title.clone()));
    // Meta wants the other fields non-empty; an empty subtitle is no subtitle.
    if let Some(subtitle) = card.subtitle.as_deref().filter(|s| !s.trim().is_empty()) {
        element.insert("subtitle".into(), Value::String(subtitle.to_owned()));
    }
    if let Some(image) = &card.image {
        let url = match image {
            MediaSource::Url { url } => url.clone(),
            MediaSource::Uploaded { media_id } => {
                match input(media, *media_id, &format!("{path}.image"))? {
                    MediaInput::PublicUrl(url) => url.clone(),
                    MediaInput::PlatformRef(_) | MediaInput::File { .. } => {
                        return Err(refused(format!(
                            "{path}.image: Messenger fetches card images from a URL, and media {media_id} has no public URL"
                        )));
                    }
                }
            }
        };
        element.insert("image_url".into(), Value::String(url));
    }
    if let Some(url) = &card.default_url {
        element.insert(
            "default_action".into(),
            json!({ "type": "web_url", "url": url }),
        );
    }
    if !card.buttons.is_empty() {
        element.insert("buttons".into(), render_buttons(&card.buttons));
    }
    Ok(Value::Object(element))
}

/// Puts the uploaded `attachment_id` where [`render`] left it `null`.
pub(crate) fn fill_attachment_id(message: &mut Value, id: &str) {
    match message {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if key == "attachment_id" && value.is_null() {
                    *value = Value::String(id.to_owned());
                } else {
                    fill_attachment_id(value, id);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| fill_attachment_id(v, id)),
        _ => {}
    }
}

/// The Content-Type of an upload. Messenger refuses audio without an `audio/*` type (A17), so a
/// stored audio file with a generic type gets one from its extension.
pub(crate) fn upload_mime(kind: MediaKind, filename: &str, mime_type: &str) -> String {
    if kind != MediaKind::Audio || mime_type.trim().to_ascii_lowercase().starts_with("audio/") {
        return mime_type.to_owned();
    }
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "m4a" | "mp4" => "audio/mp4",
        "aac" => "audio/aac",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "flac" => "audio/flac",
        "webm" => "audio/webm",
        _ => "audio/mpeg",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    static NO_MEDIA: std::sync::LazyLock<MediaSet> = std::sync::LazyLock::new(MediaSet::new);

    fn file(name: &str) -> MediaInput {
        MediaInput::File {
            bytes: Bytes::from_static(b"abc"),
            filename: name.into(),
            mime_type: "image/png".into(),
        }
    }

    #[test]
    fn text_buttons_and_quick_replies() {
        let msg = OutgoingMessage {
            body: MessageBody::Text {
                text: "Pick".into(),
                buttons: vec![
                    Button::Url {
                        title: "Site".into(),
                        url: "https://x.example".into(),
                    },
                    Button::Postback {
                        title: "Yes".into(),
                        payload: "Y".into(),
                    },
                    Button::Phone {
                        title: "Call".into(),
                        number: "+391234567".into(),
                    },
                ],
            },
            quick_replies: vec![
                QuickReply::Text {
                    title: "A".into(),
                    payload: "a".into(),
                    image_url: Some("https://x.example/a.png".into()),
                },
                QuickReply::Email,
                QuickReply::Phone {
                    title: Some("Share".into()),
                },
            ],
        };
        let r = render(&msg, &NO_MEDIA).unwrap();
        assert_eq!(
            r.message,
            json!({
                "attachment": {"type": "template", "payload": {"template_type": "button", "text": "Pick", "buttons": [
                    {"type": "web_url", "title": "Site", "url": "https://x.example"},
                    {"type": "postback", "title": "Yes", "payload": "Y"},
                    {"type": "phone_number", "title": "Call", "payload": "+391234567"},
                ]}},
                "quick_replies": [
                    {"content_type": "text", "title": "A", "payload": "a", "image_url": "https://x.example/a.png"},
                    {"content_type": "user_email"},
                    {"content_type": "user_phone_number"},
                ]
            })
        );
        assert!(r.upload.is_none());
    }

    #[test]
    fn media_by_file_waits_for_the_upload() {
        let media = MediaSet::from([(5, file("a.png"))]);
        let msg = OutgoingMessage {
            body: MessageBody::Media {
                kind: MediaKind::Image,
                media: MediaSource::Uploaded { media_id: 5 },
                caption: None,
                buttons: vec![Button::Postback {
                    title: "Buy".into(),
                    payload: "B".into(),
                }],
            },
            quick_replies: vec![],
        };
        let mut r = render(&msg, &media).unwrap();
        let upload = r.upload.clone().unwrap();
        assert_eq!((upload.media_id, upload.kind), (5, MediaKind::Image));
        fill_attachment_id(&mut r.message, "777");
        assert_eq!(
            r.message["attachment"]["payload"],
            json!({"template_type": "media", "elements": [{"media_type": "image", "attachment_id": "777",
                "buttons": [{"type": "postback", "title": "Buy", "payload": "B"}]}]})
        );
    }

    #[test]
    fn refusals_are_permanent_and_send_nothing() {
        let card_msg = |image| OutgoingMessage {
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
        let media = MediaSet::from([(1, file("a.png"))]);
        for msg in [
            card_msg(MediaSource::Uploaded { media_id: 1 }),
            card_msg(MediaSource::Uploaded { media_id: 2 }),
            OutgoingMessage {
                body: MessageBody::Media {
                    kind: MediaKind::Audio,
                    media: MediaSource::Uploaded { media_id: 1 },
                    caption: Some("hi".into()),
                    buttons: vec![],
                },
                quick_replies: vec![],
            },
        ] {
            let err = render(&msg, &media).unwrap_err();
            assert_eq!(err.class, switchboard_domain::SendErrorClass::BadRequest);
            assert!(err.not_delivered_to_platform, "{err}");
        }
    }

    #[test]
    fn audio_always_gets_an_audio_type() {
        assert_eq!(
            upload_mime(MediaKind::Audio, "a.mp3", "audio/mpeg"),
            "audio/mpeg"
        );
        assert_eq!(
            upload_mime(MediaKind::Audio, "v.OGG", "application/octet-stream"),
            "audio/ogg"
        );
        assert_eq!(upload_mime(MediaKind::Audio, "x", ""), "audio/mpeg");
        assert_eq!(
            upload_mime(MediaKind::File, "a.pdf", "application/pdf"),
            "application/pdf"
        );
    }
}
