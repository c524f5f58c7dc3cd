//! Rendering an [`OutgoingMessage`] as one Bot API call (protocols.md B4).
//!
//! | ours | Telegram |
//! |---|---|
//! | text | `sendMessage` |
//! | media | `sendPhoto` / `sendVideo` / `sendAudio` / `sendDocument` with the file as a `file_id`, a URL or a multipart upload; the caption as plain text |
//! | one card | `sendPhoto` (with an image) or `sendMessage`, `parse_mode` HTML: the title in bold (a link when the card has a `default_url`), the subtitle under it |
//! | url / postback button | inline keyboard button (`url` / `callback_data`), one per row |
//! | phone button | no such button: a line "title: +number" under the text |
//! | text quick reply | an inline keyboard row under the buttons, `callback_data` = payload |
//! | email quick reply | left out (the person types the address) |
//! | phone quick reply | a one-time reply keyboard with a `request_contact` button |
//!
//! Telegram has no carousel: callers send `OutgoingMessage::split_for(Telegram)`, one card per
//! message; more than one card here is refused. Customer-visible text is HTML-escaped only where
//! it goes out with `parse_mode` HTML (cards); everything else is sent without a parse mode.

use bytes::Bytes;
use serde_json::{Map, Value, json};
use switchboard_domain::{
    Button, Card, ChannelKind, MediaKind, MediaSource, MessageBody, OutgoingMessage, QuickReply,
    SendError,
};

use crate::media::{MediaInput, MediaSet, check_size, input, refused};

/// A file sent as bytes in a multipart part named `field`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileUpload<'a> {
    pub field: &'static str,
    pub bytes: &'a Bytes,
    pub filename: &'a str,
    pub mime_type: &'a str,
}

/// One Bot API call: `method` with `params` (all but `chat_id`), plus a file to upload.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Rendered<'a> {
    pub method: &'static str,
    pub params: Map<String, Value>,
    pub upload: Option<FileUpload<'a>>,
    /// The media item whose `file_id` the result's `field` carries, to remember:
    /// `(media_id, field)`.
    pub learn: Option<(i64, &'static str)>,
}

/// The `sendX` method and its file parameter (also the Message field of the result).
fn media_method(kind: MediaKind) -> (&'static str, &'static str) {
    match kind {
        MediaKind::Image => ("sendPhoto", "photo"),
        MediaKind::Video => ("sendVideo", "video"),
        MediaKind::Audio => ("sendAudio", "audio"),
        MediaKind::File => ("sendDocument", "document"),
    }
}

pub(crate) fn render<'a>(
    message: &OutgoingMessage,
    media: &'a MediaSet,
) -> Result<Rendered<'a>, SendError> {
    let mut params = Map::new();
    let mut upload = None;
    let mut learn = None;
    let method;
    let buttons: &[Button] = match &message.body {
        MessageBody::Text { text, buttons } => {
            method = "sendMessage";
            params.insert(
                "text".into(),
                Value::String(with_lines(text, &phone_lines(buttons))),
            );
            buttons
        }
        MessageBody::Media {
            kind,
            media: source,
            caption,
            buttons,
        } => {
            let (m, field) = media_method(*kind);
            method = m;
            let file = resolve(source, *kind, field, media, "media")?;
            file.apply(&mut params, &mut upload, &mut learn);
            let caption = with_lines(caption.as_deref().unwrap_or(""), &phone_lines(buttons));
            if !caption.is_empty() {
                params.insert("caption".into(), Value::String(caption));
            }
            buttons
        }
        MessageBody::Cards { cards } => {
            let [card] = cards.as_slice() else {
                return Err(refused(format!(
                    "cards: Telegram has no carousel; send one card per message (split_for), got {}",
                    cards.len()
                )));
            };
            let html = card_html(card);
            match &card.image {
                Some(image) => {
                    method = "sendPhoto";
                    let file = resolve(image, MediaKind::Image, "photo", media, "cards[0].image")?;
                    file.apply(&mut params, &mut upload, &mut learn);
                    params.insert("caption".into(), Value::String(html));
                }
                None => {
                    method = "sendMessage";
                    params.insert("text".into(), Value::String(html));
                }
            }
            params.insert("parse_mode".into(), json!("HTML"));
            &card.buttons
        }
    };
    if let Some(markup) = reply_markup(buttons, &message.quick_replies)? {
        params.insert("reply_markup".into(), markup);
    }
    Ok(Rendered {
        method,
        params,
        upload,
        learn,
    })
}

/// How the file parameter of a media method is filled.
enum File<'a> {
    /// A `file_id` or URL string; `learn` = the media id to remember the result's file_id for.
    Named {
        value: String,
        field: &'static str,
        learn: Option<i64>,
    },
    Upload(FileUpload<'a>, i64),
}

impl<'a> File<'a> {
    fn apply(
        self,
        params: &mut Map<String, Value>,
        upload: &mut Option<FileUpload<'a>>,
        learn: &mut Option<(i64, &'static str)>,
    ) {
        match self {
            File::Named {
                value,
                field,
                learn: remember,
            } => {
                params.insert(field.into(), Value::String(value));
                *learn = remember.map(|id| (id, field));
            }
            File::Upload(file, media_id) => {
                *learn = Some((media_id, file.field));
                *upload = Some(file);
            }
        }
    }
}

fn resolve<'a>(
    source: &MediaSource,
    kind: MediaKind,
    field: &'static str,
    media: &'a MediaSet,
    path: &str,
) -> Result<File<'a>, SendError> {
    Ok(match source {
        MediaSource::Url { url } => File::Named {
            value: url.clone(),
            field,
            learn: None,
        },
        MediaSource::Uploaded { media_id } => match input(media, *media_id, path)? {
            MediaInput::PlatformRef(file_id) => File::Named {
                value: file_id.clone(),
                field,
                learn: None,
            },
            // Telegram fetches it; the file_id it answers with saves the next fetch.
            MediaInput::PublicUrl(url) => File::Named {
                value: url.clone(),
                field,
                learn: Some(*media_id),
            },
            MediaInput::File {
                bytes,
                filename,
                mime_type,
            } => {
                check_size(bytes, kind, ChannelKind::Telegram, *media_id)?;
                File::Upload(
                    FileUpload {
                        field,
                        bytes,
                        filename,
                        mime_type,
                    },
                    *media_id,
                )
            }
        },
    })
}

/// Phone buttons, which Telegram cannot show as buttons, as "title: +number" lines.
fn phone_lines(buttons: &[Button]) -> Vec<String> {
    buttons
        .iter()
        .filter_map(|b| match b {
            Button::Phone { title, number } => Some(format!("{title}: {number}")),
            _ => None,
        })
        .collect()
}

fn with_lines(text: &str, lines: &[String]) -> String {
    let mut out = text.to_owned();
    for line in lines {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    out
}

/// A card as Telegram HTML: bold title (linked to `default_url`), subtitle, phone lines.
fn card_html(card: &Card) -> String {
    let mut html = format!("<b>{}</b>", escape_html(&card.title));
    if let Some(url) = &card.default_url {
        html = format!("<a href=\"{}\">{html}</a>", escape_html_attr(url));
    }
    if let Some(subtitle) = card.subtitle.as_deref().filter(|s| !s.trim().is_empty()) {
        html.push('\n');
        html.push_str(&escape_html(subtitle));
    }
    for line in phone_lines(&card.buttons) {
        html.push('\n');
        html.push_str(&escape_html(&line));
    }
    html
}

/// Escapes text for Telegram's HTML parse mode (`<`, `>`, `&`).
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes a double-quoted attribute value (also `"`).
fn escape_html_attr(s: &str) -> String {
    escape_html(s).replace('"', "&quot;")
}

/// Inline keyboard (buttons, then text quick replies, one per row) or the reply keyboard of a
/// phone quick reply. Telegram attaches one keyboard per message, so both at once is refused.
fn reply_markup(
    buttons: &[Button],
    quick_replies: &[QuickReply],
) -> Result<Option<Value>, SendError> {
    let mut rows: Vec<Value> = buttons
        .iter()
        .filter_map(|b| match b {
            Button::Url { title, url } => Some(json!([{ "text": title, "url": url }])),
            Button::Postback { title, payload } => {
                Some(json!([{ "text": title, "callback_data": payload }]))
            }
            Button::Phone { .. } => None,
        })
        .collect();
    let mut share_phone = None;
    for qr in quick_replies {
        match qr {
            QuickReply::Text { title, payload, .. } => {
                rows.push(json!([{ "text": title, "callback_data": payload }]));
            }
            QuickReply::Email => {}
            QuickReply::Phone { title } => {
                share_phone = Some(title.as_deref().unwrap_or("Share my phone number"));
            }
        }
    }
    match (share_phone, rows.is_empty()) {
        (Some(_), false) => Err(refused(
            "quick_replies: on Telegram a phone quick reply is a reply keyboard, which cannot be combined with buttons or text quick replies",
        )),
        (Some(label), true) => Ok(Some(json!({
            "keyboard": [[{ "text": label, "request_contact": true }]],
            "one_time_keyboard": true,
            "resize_keyboard": true,
        }))),
        (None, false) => Ok(Some(json!({ "inline_keyboard": rows }))),
        (None, true) => Ok(None),
    }
}

/// The `file_id` of what was sent, from the result Message's `field`: for a photo, the largest
/// size (Telegram lists sizes smallest first).
pub(crate) fn sent_file_id(result: &Value, field: &str) -> Option<String> {
    let value = result.get(field)?;
    let file = match value {
        Value::Array(sizes) => sizes
            .iter()
            .enumerate()
            .max_by_key(|(i, s)| {
                let dim = |k: &str| s.get(k).and_then(Value::as_u64).unwrap_or(0);
                (dim("width") * dim("height"), dim("file_size"), *i)
            })
            .map(|(_, s)| s)?,
        other => other,
    };
    file.get("file_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    static NO_MEDIA: std::sync::LazyLock<MediaSet> = std::sync::LazyLock::new(MediaSet::new);

    fn card(title: &str) -> Card {
        Card {
            title: title.into(),
            subtitle: Some("a < b & c".into()),
            image: None,
            default_url: Some("https://shop.example/p?a=1&b=\"2\"".into()),
            buttons: vec![
                Button::Phone {
                    title: "Call <us>".into(),
                    number: "+441234567".into(),
                },
                Button::Postback {
                    title: "Buy".into(),
                    payload: "BUY".into(),
                },
            ],
        }
    }

    #[test]
    fn card_without_image_is_html_text() {
        let msg = OutgoingMessage {
            body: MessageBody::Cards {
                cards: vec![card("<b>&")],
            },
            quick_replies: vec![],
        };
        let r = render(&msg, &NO_MEDIA).unwrap();
        assert_eq!(r.method, "sendMessage");
        assert_eq!(
            r.params["text"],
            "<a href=\"https://shop.example/p?a=1&amp;b=&quot;2&quot;\"><b>&lt;b&gt;&amp;</b></a>\na &lt; b &amp; c\nCall &lt;us&gt;: +441234567"
        );
        assert_eq!(r.params["parse_mode"], "HTML");
        assert_eq!(
            r.params["reply_markup"],
            json!({"inline_keyboard": [[{"text": "Buy", "callback_data": "BUY"}]]})
        );
    }

    #[test]
    fn text_keyboards() {
        let msg = OutgoingMessage {
            body: MessageBody::Text {
                text: "Hi".into(),
                buttons: vec![
                    Button::Url {
                        title: "Site".into(),
                        url: "https://x.example".into(),
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
                    image_url: None,
                },
                QuickReply::Email,
            ],
        };
        let r = render(&msg, &NO_MEDIA).unwrap();
        assert_eq!(r.params["text"], "Hi\nCall: +391234567");
        assert_eq!(
            r.params["reply_markup"],
            json!({"inline_keyboard": [[{"text": "Site", "url": "https://x.example"}], [{"text": "A", "callback_data": "a"}]]})
        );
        let phone = OutgoingMessage {
            body: MessageBody::Text {
                text: "Number?".into(),
                buttons: vec![],
            },
            quick_replies: vec![QuickReply::Phone { title: None }, QuickReply::Email],
        };
        let r = render(&phone, &NO_MEDIA).unwrap();
        assert_eq!(
            r.params["reply_markup"],
            json!({"keyboard": [[{"text": "Share my phone number", "request_contact": true}]], "one_time_keyboard": true, "resize_keyboard": true})
        );
        let mut both = msg.clone();
        both.quick_replies.push(QuickReply::Phone { title: None });
        assert!(
            render(&both, &NO_MEDIA)
                .unwrap_err()
                .not_delivered_to_platform
        );
    }

    #[test]
    fn media_sources() {
        let media = MediaSet::from([
            (1, MediaInput::PlatformRef("FILEID".into())),
            (
                2,
                MediaInput::File {
                    bytes: Bytes::from_static(b"x"),
                    filename: "a.pdf".into(),
                    mime_type: "application/pdf".into(),
                },
            ),
        ]);
        let msg = |id, kind| OutgoingMessage {
            body: MessageBody::Media {
                kind,
                media: MediaSource::Uploaded { media_id: id },
                caption: Some("cap".into()),
                buttons: vec![],
            },
            quick_replies: vec![],
        };
        let r = render(&msg(1, MediaKind::Video), &media).unwrap();
        assert_eq!(
            (r.method, &r.params["video"]),
            ("sendVideo", &json!("FILEID"))
        );
        assert_eq!(r.learn, None);
        let r = render(&msg(2, MediaKind::File), &media).unwrap();
        assert_eq!(r.method, "sendDocument");
        assert_eq!(r.upload.as_ref().map(|u| u.field), Some("document"));
        assert_eq!(r.learn, Some((2, "document")));
        assert_eq!(r.params["caption"], "cap");
        assert!(render(&msg(3, MediaKind::File), &media).is_err());
    }

    #[test]
    fn largest_photo_wins() {
        let result = json!({"photo": [
            {"file_id": "s", "width": 90, "height": 67},
            {"file_id": "l", "width": 800, "height": 600},
            {"file_id": "m", "width": 320, "height": 240},
        ], "video": {"file_id": "v"}});
        assert_eq!(sent_file_id(&result, "photo").as_deref(), Some("l"));
        assert_eq!(sent_file_id(&result, "video").as_deref(), Some("v"));
        assert_eq!(sent_file_id(&result, "audio"), None);
    }
}
