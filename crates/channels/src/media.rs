//! The media a rich message needs, as the dispatcher hands it to a client, and what a send
//! learned about them.
//!
//! A message refers to uploaded media by Switchboard's `media_id`
//! ([`MediaSource::Uploaded`](switchboard_domain::MediaSource)). Before sending, the dispatcher
//! looks each id up and says how this channel can get at it: a handle the platform gave us for an
//! earlier upload, the bytes themselves, or (only where a platform insists on fetching a URL) a
//! public URL. Uploads made during a send come back in [`Delivered::learned`] so the next send of
//! the same file reuses the handle instead of the bytes.

use std::collections::HashMap;
use std::fmt;

use bytes::Bytes;
use switchboard_domain::{ChannelKind, MediaKind, SendError, SendErrorClass, SendReceipt};

/// A media item the message needs, as the dispatcher found it.
#[derive(Clone, PartialEq, Eq)]
pub enum MediaInput {
    /// The platform already has it from an earlier upload by this channel: a Messenger
    /// `attachment_id` or a Telegram `file_id`.
    PlatformRef(String),
    /// Bytes stored in Switchboard, to upload.
    File {
        bytes: Bytes,
        filename: String,
        mime_type: String,
    },
    /// A public URL Switchboard serves it at; used where the platform only accepts URLs
    /// (Messenger card images).
    PublicUrl(String),
}

impl fmt::Debug for MediaInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The bytes would flood a log line; their length says enough.
        match self {
            MediaInput::PlatformRef(r) => f.debug_tuple("PlatformRef").field(r).finish(),
            MediaInput::File {
                bytes,
                filename,
                mime_type,
            } => f
                .debug_struct("File")
                .field("len", &bytes.len())
                .field("filename", filename)
                .field("mime_type", mime_type)
                .finish(),
            MediaInput::PublicUrl(u) => f.debug_tuple("PublicUrl").field(u).finish(),
        }
    }
}

/// The media of one message, by Switchboard `media_id`.
pub type MediaSet = HashMap<i64, MediaInput>;

/// A message the platform accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Messenger `message_id` (`m_...`) or Telegram `message_id` as text.
    pub platform_message_id: String,
    /// Platform handles learned from uploads in this call, to cache:
    /// `(media_id, attachment_id or file_id)`.
    pub learned: Vec<(i64, String)>,
}

impl Delivered {
    pub fn receipt(&self) -> SendReceipt {
        SendReceipt {
            platform_message_id: self.platform_message_id.clone(),
        }
    }
}

impl From<Delivered> for SendReceipt {
    fn from(d: Delivered) -> Self {
        SendReceipt {
            platform_message_id: d.platform_message_id,
        }
    }
}

/// A message we refuse to send as it stands (nothing reached the platform, and sending it again
/// unchanged would fail the same way).
pub(crate) fn refused(detail: impl Into<String>) -> SendError {
    SendError {
        class: SendErrorClass::BadRequest,
        code: None,
        subcode: None,
        retry_after_secs: None,
        detail: detail.into(),
        not_delivered_to_platform: true,
    }
}

/// The input for `media_id`, or a refusal naming the field that needs it.
pub(crate) fn input<'a>(
    media: &'a MediaSet,
    media_id: i64,
    path: &str,
) -> Result<&'a MediaInput, SendError> {
    media.get(&media_id).ok_or_else(|| {
        refused(format!(
            "{path}: media {media_id} was not provided to the channel client"
        ))
    })
}

/// Refuses a file the platform would refuse for its size, before spending the upload on it.
pub(crate) fn check_size(
    bytes: &Bytes,
    kind: MediaKind,
    channel: ChannelKind,
    media_id: i64,
) -> Result<(), SendError> {
    let max = kind.max_upload_bytes(channel);
    let len = bytes.len() as u64;
    if len > max {
        return Err(refused(format!(
            "media {media_id} is {len} bytes; {} accepts at most {max} for a {}",
            channel.as_str(),
            kind.as_str()
        )));
    }
    Ok(())
}

/// A filename safe inside a quoted multipart `filename="..."` parameter: no control characters,
/// quotes, backslashes or semicolons (which naive parsers split on).
pub(crate) fn safe_filename(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '"' | '\\' | ';') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if cleaned.trim().is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

/// A multipart file part with its Content-Type (`application/octet-stream` when the stored type
/// does not parse).
pub(crate) fn file_part(
    bytes: &Bytes,
    filename: &str,
    mime_type: &str,
) -> reqwest::multipart::Part {
    let len = bytes.len() as u64;
    let make = || {
        reqwest::multipart::Part::stream_with_length(bytes.clone(), len)
            .file_name(safe_filename(filename))
    };
    make().mime_str(mime_type).unwrap_or_else(|_| {
        make()
            .mime_str("application/octet-stream")
            .unwrap_or_else(|_| make())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_bytes() {
        let input = MediaInput::File {
            bytes: Bytes::from_static(b"secret-bytes"),
            filename: "a.jpg".into(),
            mime_type: "image/jpeg".into(),
        };
        let shown = format!("{input:?}");
        assert!(shown.contains("len: 12"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn filenames_are_made_safe() {
        assert_eq!(safe_filename("a\"b\r\n;c\\.jpg"), "a_b___c_.jpg");
        assert_eq!(safe_filename("  "), "file");
        assert_eq!(safe_filename("été.png"), "été.png");
    }

    #[test]
    fn size_limits_follow_the_domain() {
        let big = Bytes::from(vec![0u8; 10 * 1024 * 1024 + 1]);
        assert!(check_size(&big, MediaKind::Image, ChannelKind::Telegram, 1).is_err());
        assert!(check_size(&big, MediaKind::Video, ChannelKind::Telegram, 1).is_ok());
        let err = check_size(&big, MediaKind::Image, ChannelKind::Telegram, 7).unwrap_err();
        assert!(err.not_delivered_to_platform);
        assert_eq!(err.class, SendErrorClass::BadRequest);
    }
}
