//! What happens when we hand a message to a platform.

use serde::{Deserialize, Serialize};

/// The platform accepted the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// `message_id` (Messenger `m_...`) or Telegram's `message_id` as text.
    pub platform_message_id: String,
}

/// Why a send failed, decided from the platform's numeric codes only — never from message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendErrorClass {
    /// Network trouble or a platform 5xx / codes 1, 2: try again later.
    Transient,
    /// The platform asked us to slow down (Graph 4/17/32/613, Telegram 429).
    RateLimited,
    /// Messenger 10/2018278: outside the messaging window.
    WindowClosed,
    /// The person blocked us or cannot receive messages (551/1545041, Telegram 403).
    RecipientUnavailable,
    /// The recipient id is not known to the platform (100/2018001, Telegram "chat not found").
    InvalidRecipient,
    /// Our token is wrong or expired (Graph 190, Telegram 401): nothing will work until fixed.
    AuthBroken,
    /// The platform rejected the request itself; retrying will not help.
    BadRequest,
}

impl SendErrorClass {
    pub fn as_str(self) -> &'static str {
        match self {
            SendErrorClass::Transient => "transient",
            SendErrorClass::RateLimited => "rate_limited",
            SendErrorClass::WindowClosed => "window_closed",
            SendErrorClass::RecipientUnavailable => "recipient_unavailable",
            SendErrorClass::InvalidRecipient => "invalid_recipient",
            SendErrorClass::AuthBroken => "auth_broken",
            SendErrorClass::BadRequest => "bad_request",
        }
    }

    /// Whether the same request may succeed if sent again later.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            SendErrorClass::Transient | SendErrorClass::RateLimited
        )
    }
}

/// A classified send failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{class:?} (code {code:?}/{subcode:?}): {detail}")]
pub struct SendError {
    pub class: SendErrorClass,
    /// The platform's numeric code (Graph `code`, Telegram `error_code`), if it answered.
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    /// Seconds the platform asked us to wait (Telegram `retry_after`), if any.
    pub retry_after_secs: Option<u64>,
    /// For logs and the message row; never used to decide anything.
    pub detail: String,
    /// True when we know the request never reached the platform (connect refused, DNS, …),
    /// so re-sending cannot duplicate the message.
    pub not_delivered_to_platform: bool,
}

impl SendError {
    pub fn transport(detail: impl Into<String>, not_delivered_to_platform: bool) -> Self {
        SendError {
            class: SendErrorClass::Transient,
            code: None,
            subcode: None,
            retry_after_secs: None,
            detail: detail.into(),
            not_delivered_to_platform,
        }
    }
}
