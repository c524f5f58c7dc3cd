//! The rich outgoing message: one structure for every sender (agents, bots, automations,
//! campaigns, feeds), checked against a channel's limits **before** it is queued.
//!
//! The shape is ours, not a platform's: buttons, quick replies, media, cards. The channel adapters
//! render it (Messenger templates and attachments; Telegram `sendMessage`/`sendPhoto`/… with
//! keyboards). Everything a platform would refuse is refused here first, with the path of the
//! offending field, so a queued message never fails for a reason we could have known.
//!
//! Where a platform has no equivalent we degrade deliberately and say so:
//! - Telegram has no carousel: [`OutgoingMessage::split_for`] turns `n` cards into `n` messages,
//!   one card each, quick replies on the last.
//! - Telegram quick replies become inline-keyboard rows under the message (their payload travels
//!   as `callback_data`, so it obeys the 64-byte limit). An `email` quick reply has no Telegram
//!   counterpart and is left out (the person types the address); `phone` becomes a one-time
//!   "share my number" reply keyboard, which Telegram cannot combine with inline buttons — that
//!   combination is refused.
//! - Telegram inline buttons cannot dial: a phone button becomes a line "title: +number" under the
//!   text (Telegram links the number).
//! - Messenger attachments carry no caption and only images and videos may carry buttons (media
//!   template): both are refused with a precise error rather than silently dropped.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::channel::ChannelKind;

/// A message to send, in Switchboard's own terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    #[serde(flatten)]
    pub body: MessageBody,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quick_replies: Vec<QuickReply>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageBody {
    /// Text, optionally with up to three buttons under it.
    Text {
        text: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<Button>,
    },
    /// An image, video, audio clip or file, uploaded to Switchboard as bytes.
    Media {
        kind: MediaKind,
        media: MediaSource,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<Button>,
    },
    /// One card, or a carousel of up to ten.
    Cards { cards: Vec<Card> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    File,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::File => "file",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            "file" => MediaKind::File,
            _ => return None,
        })
    }

    /// Largest upload the platform accepts for this kind, in bytes (protocols.md A17, B6).
    pub fn max_upload_bytes(self, kind: ChannelKind) -> u64 {
        const MB: u64 = 1024 * 1024;
        match (kind, self) {
            (ChannelKind::Messenger, _) => 25 * MB,
            (ChannelKind::Telegram, MediaKind::Image) => 10 * MB,
            (ChannelKind::Telegram, _) => 50 * MB,
        }
    }
}

/// Where a media item comes from. Uploaded media are sent to the platform as bytes (and the
/// platform's handle reused afterwards); a URL is only for what must be a URL (e.g. a Messenger
/// card image, which Meta always fetches).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MediaSource {
    Uploaded { media_id: i64 },
    Url { url: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Button {
    /// Opens a web page.
    Url { title: String, url: String },
    /// Sends `payload` back to us (Messenger postback, Telegram callback query).
    Postback { title: String, payload: String },
    /// Calls a phone number (`+` and digits).
    Phone { title: String, number: String },
}

impl Button {
    pub fn title(&self) -> &str {
        match self {
            Button::Url { title, .. }
            | Button::Postback { title, .. }
            | Button::Phone { title, .. } => title,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum QuickReply {
    Text {
        title: String,
        payload: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image_url: Option<String>,
    },
    /// Offers the person's e-mail address from their profile (Messenger).
    Email,
    /// Offers the person's phone number (Messenger profile; Telegram "share contact").
    Phone {
        /// The button label on Telegram; Messenger shows the number itself.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MediaSource>,
    /// Opened when the card itself is tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

/// One limit a message breaks, with the path of the field (`cards[2].buttons[0].title`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub path: String,
    /// A stable machine-readable name of the limit, e.g. `button_title_length`.
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The platform limits (protocols.md A7, A17, B4–B6).
pub mod limits {
    pub const MAX_BUTTONS: usize = 3;
    pub const BUTTON_TITLE: usize = 20;
    pub const MAX_QUICK_REPLIES: usize = 13;
    pub const QUICK_REPLY_TITLE: usize = 20;
    pub const MESSENGER_PAYLOAD: usize = 1000;
    /// Bytes, UTF-8.
    pub const TELEGRAM_CALLBACK_DATA_BYTES: usize = 64;
    pub const MAX_CARDS: usize = 10;
    pub const CARD_TITLE: usize = 80;
    pub const CARD_SUBTITLE: usize = 80;
    pub const MESSENGER_BUTTON_TEMPLATE_TEXT: usize = 640;
    pub const TELEGRAM_CAPTION: usize = 1024;
}

impl OutgoingMessage {
    pub fn text(text: impl Into<String>) -> Self {
        OutgoingMessage {
            body: MessageBody::Text {
                text: text.into(),
                buttons: Vec::new(),
            },
            quick_replies: Vec::new(),
        }
    }

    /// Every piece of text a person will read, with its path: what templates render and lint
    /// checks.
    pub fn visible_texts(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        match &self.body {
            MessageBody::Text { text, buttons } => {
                out.push(("text".to_owned(), text.as_str()));
                push_button_titles(&mut out, "buttons", buttons);
            }
            MessageBody::Media {
                caption, buttons, ..
            } => {
                if let Some(c) = caption {
                    out.push(("caption".to_owned(), c.as_str()));
                }
                push_button_titles(&mut out, "buttons", buttons);
            }
            MessageBody::Cards { cards } => {
                for (i, card) in cards.iter().enumerate() {
                    out.push((format!("cards[{i}].title"), card.title.as_str()));
                    if let Some(s) = &card.subtitle {
                        out.push((format!("cards[{i}].subtitle"), s.as_str()));
                    }
                    push_button_titles(&mut out, &format!("cards[{i}].buttons"), &card.buttons);
                }
            }
        }
        for (i, qr) in self.quick_replies.iter().enumerate() {
            match qr {
                QuickReply::Text { title, .. } | QuickReply::Phone { title: Some(title) } => {
                    out.push((format!("quick_replies[{i}].title"), title.as_str()))
                }
                _ => {}
            }
        }
        out
    }

    /// Rewrites every visible text (e.g. rendering personalisation), keeping the structure.
    /// Stops at the first error, which is returned with the field's path.
    pub fn map_texts<E>(
        &self,
        mut f: impl FnMut(&str, &str) -> Result<String, E>,
    ) -> Result<OutgoingMessage, (String, E)> {
        type Apply<'a, E> = dyn FnMut(String, &str) -> Result<String, (String, E)> + 'a;
        let mut apply = |path: String, s: &str| f(&path, s).map_err(|e| (path, e));
        let map_buttons = |prefix: &str,
                           buttons: &[Button],
                           apply: &mut Apply<'_, E>|
         -> Result<Vec<Button>, (String, E)> {
            buttons
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let title = apply(format!("{prefix}[{i}].title"), b.title())?;
                    Ok(match b {
                        Button::Url { url, .. } => Button::Url {
                            title,
                            url: url.clone(),
                        },
                        Button::Postback { payload, .. } => Button::Postback {
                            title,
                            payload: payload.clone(),
                        },
                        Button::Phone { number, .. } => Button::Phone {
                            title,
                            number: number.clone(),
                        },
                    })
                })
                .collect()
        };
        let body = match &self.body {
            MessageBody::Text { text, buttons } => MessageBody::Text {
                text: apply("text".to_owned(), text)?,
                buttons: map_buttons("buttons", buttons, &mut apply)?,
            },
            MessageBody::Media {
                kind,
                media,
                caption,
                buttons,
            } => MessageBody::Media {
                kind: *kind,
                media: media.clone(),
                caption: caption
                    .as_deref()
                    .map(|c| apply("caption".to_owned(), c))
                    .transpose()?,
                buttons: map_buttons("buttons", buttons, &mut apply)?,
            },
            MessageBody::Cards { cards } => MessageBody::Cards {
                cards: cards
                    .iter()
                    .enumerate()
                    .map(|(i, card)| {
                        Ok(Card {
                            title: apply(format!("cards[{i}].title"), &card.title)?,
                            subtitle: card
                                .subtitle
                                .as_deref()
                                .map(|s| apply(format!("cards[{i}].subtitle"), s))
                                .transpose()?,
                            image: card.image.clone(),
                            default_url: card.default_url.clone(),
                            buttons: map_buttons(
                                &format!("cards[{i}].buttons"),
                                &card.buttons,
                                &mut apply,
                            )?,
                        })
                    })
                    .collect::<Result<_, _>>()?,
            },
        };
        let quick_replies = self
            .quick_replies
            .iter()
            .enumerate()
            .map(|(i, qr)| {
                Ok(match qr {
                    QuickReply::Text {
                        title,
                        payload,
                        image_url,
                    } => QuickReply::Text {
                        title: apply(format!("quick_replies[{i}].title"), title)?,
                        payload: payload.clone(),
                        image_url: image_url.clone(),
                    },
                    QuickReply::Phone { title: Some(t) } => QuickReply::Phone {
                        title: Some(apply(format!("quick_replies[{i}].title"), t)?),
                    },
                    other => other.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(OutgoingMessage {
            body,
            quick_replies,
        })
    }

    /// A plain-text rendering for the inbox, search and notifications.
    pub fn summary(&self) -> String {
        match &self.body {
            MessageBody::Text { text, .. } => text.clone(),
            MessageBody::Media { kind, caption, .. } => match caption {
                Some(c) => format!("[{}] {c}", kind.as_str()),
                None => format!("[{}]", kind.as_str()),
            },
            MessageBody::Cards { cards } => cards
                .iter()
                .map(|c| format!("[card] {}", c.title))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// Uploaded media this message needs, in order of appearance.
    pub fn media_ids(&self) -> Vec<i64> {
        let mut ids = Vec::new();
        match &self.body {
            MessageBody::Media {
                media: MediaSource::Uploaded { media_id },
                ..
            } => ids.push(*media_id),
            MessageBody::Cards { cards } => {
                for card in cards {
                    if let Some(MediaSource::Uploaded { media_id }) = &card.image {
                        ids.push(*media_id);
                    }
                }
            }
            _ => {}
        }
        ids
    }

    /// The messages that actually go out on `kind`: itself, except that Telegram, which has no
    /// carousel, gets one message per card (quick replies ride on the last one).
    pub fn split_for(self, kind: ChannelKind) -> Vec<OutgoingMessage> {
        match (kind, self.body) {
            (ChannelKind::Telegram, MessageBody::Cards { cards }) if cards.len() > 1 => {
                let last = cards.len() - 1;
                let mut quick_replies = Some(self.quick_replies);
                cards
                    .into_iter()
                    .enumerate()
                    .map(|(i, card)| OutgoingMessage {
                        body: MessageBody::Cards { cards: vec![card] },
                        quick_replies: if i == last {
                            quick_replies.take().unwrap_or_default()
                        } else {
                            Vec::new()
                        },
                    })
                    .collect()
            }
            (_, body) => vec![OutgoingMessage {
                body,
                quick_replies: self.quick_replies,
            }],
        }
    }

    /// Checks every platform limit for `kind`. All violations are returned, not just the first.
    pub fn check(&self, kind: ChannelKind) -> Result<(), Vec<Violation>> {
        let inline_buttons = match &self.body {
            MessageBody::Text { buttons, .. } | MessageBody::Media { buttons, .. } => {
                !buttons.is_empty()
            }
            MessageBody::Cards { cards } => cards.iter().any(|c| !c.buttons.is_empty()),
        };
        let mut c = Checker {
            kind,
            found: Vec::new(),
            inline_buttons,
        };
        c.message(self);
        if c.found.is_empty() {
            Ok(())
        } else {
            Err(c.found)
        }
    }
}

fn push_button_titles<'a>(out: &mut Vec<(String, &'a str)>, prefix: &str, buttons: &'a [Button]) {
    for (i, b) in buttons.iter().enumerate() {
        out.push((format!("{prefix}[{i}].title"), b.title()));
    }
}

struct Checker {
    kind: ChannelKind,
    found: Vec<Violation>,
    /// Whether the message has any inline button (Telegram keyboard conflicts).
    inline_buttons: bool,
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Characters the `\ntitle: +number` lines of phone buttons add on Telegram.
fn phone_lines_len(buttons: &[Button]) -> usize {
    buttons
        .iter()
        .map(|b| match b {
            Button::Phone { title, number } => 1 + chars(title) + 2 + chars(number),
            _ => 0,
        })
        .sum()
}

impl Checker {
    fn fail(&mut self, path: impl Into<String>, rule: &'static str, message: impl Into<String>) {
        self.found.push(Violation {
            path: path.into(),
            rule,
            message: message.into(),
        });
    }

    fn platform(&self) -> &'static str {
        match self.kind {
            ChannelKind::Messenger => "Messenger",
            ChannelKind::Telegram => "Telegram",
        }
    }

    fn length(&mut self, path: &str, s: &str, min: usize, max: usize, rule: &'static str) {
        let n = chars(s);
        if s.trim().is_empty() && min > 0 {
            self.fail(path, rule, "must not be empty");
        } else if n > max {
            let platform = self.platform();
            self.fail(
                path,
                rule,
                format!("is {n} characters; {platform} allows at most {max}"),
            );
        }
    }

    fn message(&mut self, m: &OutgoingMessage) {
        match &m.body {
            MessageBody::Text { text, buttons } => {
                let limit = match (self.kind, buttons.is_empty()) {
                    // Text with buttons is a button template, whose text is shorter.
                    (ChannelKind::Messenger, false) => limits::MESSENGER_BUTTON_TEMPLATE_TEXT,
                    (kind, _) => kind.text_limit(),
                };
                self.length("text", text, 1, limit, "text_length");
                self.telegram_phone_lines("text", text, buttons, limit);
                self.buttons("buttons", buttons);
            }
            MessageBody::Media {
                kind,
                media,
                caption,
                buttons,
            } => {
                self.media_source("media", media);
                if self.kind == ChannelKind::Telegram {
                    self.telegram_phone_lines(
                        "caption",
                        caption.as_deref().unwrap_or_default(),
                        buttons,
                        limits::TELEGRAM_CAPTION,
                    );
                }
                if let Some(caption) = caption {
                    match self.kind {
                        ChannelKind::Telegram => self.length(
                            "caption",
                            caption,
                            0,
                            limits::TELEGRAM_CAPTION,
                            "caption_length",
                        ),
                        ChannelKind::Messenger => self.fail(
                            "caption",
                            "caption_unsupported",
                            "Messenger attachments carry no caption; send the text as its own message or use a card",
                        ),
                    }
                }
                if self.kind == ChannelKind::Messenger
                    && !buttons.is_empty()
                    && !matches!(kind, MediaKind::Image | MediaKind::Video)
                {
                    self.fail(
                        "buttons",
                        "media_buttons_unsupported",
                        format!(
                            "Messenger allows buttons only under images and videos, not {}",
                            kind.as_str()
                        ),
                    );
                }
                if self.kind == ChannelKind::Messenger
                    && !buttons.is_empty()
                    && matches!(media, MediaSource::Url { .. })
                {
                    self.fail(
                        "media",
                        "media_template_needs_upload",
                        "Messenger media with buttons must be uploaded (media_id), not a URL",
                    );
                }
                self.buttons("buttons", buttons);
            }
            MessageBody::Cards { cards } => {
                if cards.is_empty() {
                    self.fail("cards", "card_count", "needs at least one card");
                } else if cards.len() > limits::MAX_CARDS {
                    self.fail(
                        "cards",
                        "card_count",
                        format!(
                            "has {} cards; at most {} are allowed",
                            cards.len(),
                            limits::MAX_CARDS
                        ),
                    );
                }
                for (i, card) in cards.iter().enumerate() {
                    self.card(&format!("cards[{i}]"), card);
                }
            }
        }
        self.quick_replies(&m.quick_replies);
    }

    fn card(&mut self, path: &str, card: &Card) {
        self.length(
            &format!("{path}.title"),
            &card.title,
            1,
            limits::CARD_TITLE,
            "card_title_length",
        );
        if let Some(s) = &card.subtitle {
            self.length(
                &format!("{path}.subtitle"),
                s,
                0,
                limits::CARD_SUBTITLE,
                "card_subtitle_length",
            );
        }
        if card.subtitle.as_deref().is_none_or(|s| s.trim().is_empty())
            && card.image.is_none()
            && card.default_url.is_none()
            && card.buttons.is_empty()
        {
            self.fail(
                path,
                "card_needs_content",
                "a card needs a subtitle, an image, a default_url or a button besides its title",
            );
        }
        if let Some(image) = &card.image {
            self.media_source(&format!("{path}.image"), image);
        }
        if let Some(url) = &card.default_url {
            self.url(&format!("{path}.default_url"), url);
        }
        if self.kind == ChannelKind::Telegram && card.image.is_some() {
            // The card becomes a photo whose caption is title + subtitle (+ phone lines).
            let caption = chars(&card.title)
                + card.subtitle.as_deref().map_or(0, chars)
                + 1
                + phone_lines_len(&card.buttons);
            if caption > limits::TELEGRAM_CAPTION {
                self.fail(
                    path,
                    "caption_length",
                    format!(
                        "title and subtitle make a {caption}-character caption; Telegram allows at most {}",
                        limits::TELEGRAM_CAPTION
                    ),
                );
            }
        }
        self.buttons(&format!("{path}.buttons"), &card.buttons);
    }

    /// Telegram has no phone buttons: they become `title: +number` lines under the text, which
    /// the platform's limit then counts.
    fn telegram_phone_lines(&mut self, path: &str, text: &str, buttons: &[Button], limit: usize) {
        let extra = phone_lines_len(buttons);
        if self.kind != ChannelKind::Telegram || extra == 0 {
            return;
        }
        let total = chars(text.trim()) + extra;
        if chars(text) <= limit && total > limit {
            self.fail(
                path,
                "text_length",
                format!(
                    "with its phone buttons written out as lines this is {total} characters; Telegram allows at most {limit}"
                ),
            );
        }
    }

    fn media_source(&mut self, path: &str, m: &MediaSource) {
        match m {
            MediaSource::Uploaded { media_id } if *media_id <= 0 => {
                self.fail(path, "media_id", "media_id must be a positive id")
            }
            MediaSource::Uploaded { .. } => {}
            MediaSource::Url { url } => self.url(path, url),
        }
    }

    fn url(&mut self, path: &str, url: &str) {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() > "https://".len()
            && !url.chars().any(char::is_whitespace);
        if !ok {
            self.fail(
                path,
                "url",
                "must be an absolute http(s) URL without spaces",
            );
        }
    }

    fn buttons(&mut self, path: &str, buttons: &[Button]) {
        if buttons.len() > limits::MAX_BUTTONS {
            self.fail(
                path,
                "button_count",
                format!(
                    "has {} buttons; at most {} are allowed",
                    buttons.len(),
                    limits::MAX_BUTTONS
                ),
            );
        }
        for (i, b) in buttons.iter().enumerate() {
            let at = format!("{path}[{i}]");
            self.length(
                &format!("{at}.title"),
                b.title(),
                1,
                limits::BUTTON_TITLE,
                "button_title_length",
            );
            match b {
                Button::Url { url, .. } => self.url(&format!("{at}.url"), url),
                Button::Postback { payload, .. } => self.payload(&format!("{at}.payload"), payload),
                Button::Phone { number, .. } => {
                    let digits = number.strip_prefix('+').unwrap_or("");
                    if !(7..=15).contains(&digits.len())
                        || !digits.chars().all(|c| c.is_ascii_digit())
                    {
                        self.fail(
                            format!("{at}.number"),
                            "phone_number",
                            "must be + followed by the country code and number, digits only",
                        );
                    }
                }
            }
        }
    }

    fn payload(&mut self, path: &str, payload: &str) {
        if payload.is_empty() {
            self.fail(path, "payload_length", "must not be empty");
            return;
        }
        match self.kind {
            ChannelKind::Messenger if chars(payload) > limits::MESSENGER_PAYLOAD => self.fail(
                path,
                "payload_length",
                format!(
                    "is {} characters; Messenger allows at most {}",
                    chars(payload),
                    limits::MESSENGER_PAYLOAD
                ),
            ),
            ChannelKind::Telegram if payload.len() > limits::TELEGRAM_CALLBACK_DATA_BYTES => self
                .fail(
                    path,
                    "payload_length",
                    format!(
                        "is {} bytes; Telegram callback_data allows at most {}",
                        payload.len(),
                        limits::TELEGRAM_CALLBACK_DATA_BYTES
                    ),
                ),
            _ => {}
        }
    }

    fn quick_replies(&mut self, qrs: &[QuickReply]) {
        if qrs.len() > limits::MAX_QUICK_REPLIES {
            self.fail(
                "quick_replies",
                "quick_reply_count",
                format!(
                    "has {} quick replies; at most {} are allowed",
                    qrs.len(),
                    limits::MAX_QUICK_REPLIES
                ),
            );
        }
        for (i, qr) in qrs.iter().enumerate() {
            let at = format!("quick_replies[{i}]");
            match qr {
                QuickReply::Text {
                    title,
                    payload,
                    image_url,
                } => {
                    self.length(
                        &format!("{at}.title"),
                        title,
                        1,
                        limits::QUICK_REPLY_TITLE,
                        "quick_reply_title_length",
                    );
                    self.payload(&format!("{at}.payload"), payload);
                    if let Some(url) = image_url {
                        self.url(&format!("{at}.image_url"), url);
                    }
                }
                QuickReply::Phone { title: Some(t) } => self.length(
                    &format!("{at}.title"),
                    t,
                    1,
                    limits::QUICK_REPLY_TITLE,
                    "quick_reply_title_length",
                ),
                QuickReply::Phone { title: None } | QuickReply::Email => {}
            }
        }
        if self.kind == ChannelKind::Telegram
            && qrs.iter().any(|q| matches!(q, QuickReply::Phone { .. }))
            && (self.inline_buttons || qrs.iter().any(|q| matches!(q, QuickReply::Text { .. })))
        {
            self.fail(
                "quick_replies",
                "telegram_keyboard_conflict",
                "on Telegram a phone quick reply is a reply keyboard, which cannot be combined with buttons or text quick replies",
            );
        }
    }
}
