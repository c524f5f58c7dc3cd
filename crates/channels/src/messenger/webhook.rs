//! Messenger webhook bodies → canonical [`InboundEnvelope`]s.
//!
//! # Dedupe keys
//!
//! Meta retries a failed delivery by resending the same items, so the key of an envelope is
//! derived from the item alone and is stable across retries; it is unique per channel:
//!
//! | event | key |
//! |---|---|
//! | message | `mid:<mid>` |
//! | echo | `echo:<mid>` (the page's own message, so never confused with an inbound `mid:`) |
//! | message edit | `edit:<mid>:<num_edit>` (each edit of one message is its own event) |
//! | postback with a `mid` | `postback:<mid>` |
//! | everything else, and the above when the id is missing | `<kind>:<hex SHA-256 of the item>` |
//!
//! `<kind>` is the canonical [`EventKind`](switchboard_domain::EventKind) name (`read`,
//! `delivery`, `reaction`, `unknown`, …). The digest covers the whole item (sender, recipient,
//! timestamp and payload) serialised with sorted keys, so an identical resend collides on
//! purpose while two reactions to the same message at different times do not.
//!
//! # Who the contact is
//!
//! The contact is `sender.id` parsed as a [`Psid`], except for echoes, where the page is the
//! sender and the person is `recipient.id`. Items addressed by a `user_ref` (chat plugin,
//! checkbox plugin, some marketing postbacks) have no PSID: we cannot message such a person
//! through the Send API by id, and minting an [`ExternalUserId`](switchboard_domain::ExternalUserId)
//! from a non-PSID would break the invariant that Messenger ids are PSIDs. Such items, like items
//! with no sender at all, become [`InboundEvent::Unknown`] (kind = the item's event key) with the
//! raw item kept, so nothing is lost and the server can still store them.

use serde_json::Value;
use switchboard_domain::{
    Attachment, AttachmentKind, ContactRef, Content, InboundEnvelope, InboundEvent, Millis, Psid,
    Referral, ThreadControl,
};

use crate::json::{array_at, at, digest, f64_at, i64_at, id_at, str_at};

/// Prefix of the `metadata` we attach to every message we send (`switchboard:<our message id>`);
/// an echo carrying it is a message we already hold.
pub const METADATA_PREFIX: &str = "switchboard:";

/// The events of one webhook body that belong to our page.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedWebhook {
    /// One per item of `messaging` and `standby`, in body order.
    pub envelopes: Vec<InboundEnvelope>,
    /// How many items were dropped because their entry's `id` is another page's (an app
    /// subscribed to several pages shares one callback URL). Counts items, not entries.
    pub skipped_foreign_entries: usize,
}

/// The body is not a Messenger page webhook at all. Anything inside a well-formed envelope that
/// we do not understand is an [`InboundEvent::Unknown`], never this error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookParseError {
    #[error("webhook body is not JSON: {0}")]
    NotJson(String),
    #[error("webhook body is not {{\"object\":\"page\",\"entry\":[...]}}")]
    NotPageWebhook,
}

/// Item keys we understand, in the order we look for them. An item should carry exactly one.
const KNOWN_KEYS: &[&str] = &[
    "message",
    "message_edit",
    "postback",
    "referral",
    "optin",
    "delivery",
    "read",
    "reaction",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "release_thread_control",
    "policy_enforcement",
];

/// Keys every item carries next to its event key.
const ROUTING_KEYS: &[&str] = &["sender", "recipient", "timestamp"];

/// Parses a webhook body for the page `page_id`.
///
/// Fails only when the body is not JSON or not `{"object":"page","entry":[...]}`. Every item of
/// `messaging` (and of `standby`, flagged as such) of every entry of our page becomes exactly one
/// envelope; see the module docs for dedupe keys and contacts.
pub fn parse_webhook(body: &[u8], page_id: &str) -> Result<ParsedWebhook, WebhookParseError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| WebhookParseError::NotJson(e.to_string()))?;
    if str_at(&root, &["object"]).as_deref() != Some("page") {
        return Err(WebhookParseError::NotPageWebhook);
    }
    let entries = at(&root, &["entry"])
        .and_then(Value::as_array)
        .ok_or(WebhookParseError::NotPageWebhook)?;

    let mut parsed = ParsedWebhook {
        envelopes: Vec::new(),
        skipped_foreign_entries: 0,
    };
    for entry in entries {
        let messaging = array_at(entry, &["messaging"]);
        let standby = array_at(entry, &["standby"]);
        if id_at(entry, &["id"]).as_deref() != Some(page_id) {
            parsed.skipped_foreign_entries += messaging.len() + standby.len();
            tracing::debug!(
                items = messaging.len() + standby.len(),
                "skipping webhook entry for another page"
            );
            continue;
        }
        let entry_time = i64_at(entry, &["time"]);
        let items = messaging
            .iter()
            .map(|i| (i, false))
            .chain(standby.iter().map(|i| (i, true)));
        for (item, is_standby) in items {
            parsed
                .envelopes
                .push(parse_item(item, is_standby, entry_time));
        }
    }
    Ok(parsed)
}

/// An understood event with who it is about and, when the platform gave it an id, its key.
struct Recognised {
    event: InboundEvent,
    contact: Option<ContactRef>,
    key: Option<String>,
}

fn parse_item(item: &Value, standby: bool, entry_time: Option<i64>) -> InboundEnvelope {
    let occurred_at = i64_at(item, &["timestamp"])
        .or(entry_time)
        .map_or_else(Millis::now, Millis);
    let Recognised {
        event,
        contact,
        key,
    } = recognise(item).unwrap_or_else(|| Recognised {
        event: InboundEvent::Unknown {
            platform_kind: event_key(item),
            raw: item.clone(),
        },
        contact: person(item, if is_echo(item) { "recipient" } else { "sender" }),
        key: None,
    });
    let dedupe_key = key.unwrap_or_else(|| format!("{}:{}", event.kind().as_str(), digest(item)));
    InboundEnvelope {
        dedupe_key,
        contact,
        occurred_at,
        standby,
        event,
    }
}

/// The event key of an item, for `Unknown.platform_kind`.
fn event_key(item: &Value) -> String {
    let Some(obj) = item.as_object() else {
        return "unrecognised".to_owned();
    };
    KNOWN_KEYS
        .iter()
        .find(|k| obj.contains_key(**k))
        .map(|k| (*k).to_owned())
        .or_else(|| {
            obj.keys()
                .find(|k| !ROUTING_KEYS.contains(&k.as_str()))
                .cloned()
        })
        .unwrap_or_else(|| "unrecognised".to_owned())
}

fn is_echo(item: &Value) -> bool {
    at(item, &["message", "is_echo"]).and_then(Value::as_bool) == Some(true)
}

/// `item.<side>.id` as a contact, when it is a PSID.
fn person(item: &Value, side: &str) -> Option<ContactRef> {
    let psid = Psid::parse(&id_at(item, &[side, "id"])?).ok()?;
    Some(ContactRef::id_only(psid.into()))
}

/// `None` when the item is not an event we model or lacks what the event needs (an id, a PSID).
fn recognise(item: &Value) -> Option<Recognised> {
    let obj = item.as_object()?;
    let key = KNOWN_KEYS.iter().copied().find(|k| obj.contains_key(*k))?;
    let payload = obj.get(key)?;
    if !payload.is_object() {
        return None;
    }
    match key {
        "message" => message(item, payload),
        "message_edit" => {
            let mid = str_at(payload, &["mid"])?;
            let key = i64_at(payload, &["num_edit"]).map(|n| format!("edit:{mid}:{n}"));
            let content = Content {
                text: str_at(payload, &["text"]),
                ..Content::default()
            };
            Some(Recognised {
                event: InboundEvent::Edit {
                    platform_message_id: mid,
                    content,
                },
                contact: Some(person(item, "sender")?),
                key,
            })
        }
        "postback" => Some(Recognised {
            event: InboundEvent::Postback {
                title: str_at(payload, &["title"]),
                payload: str_at(payload, &["payload"]),
                referral: at(payload, &["referral"]).and_then(referral),
                callback_id: None,
            },
            contact: Some(person(item, "sender")?),
            key: str_at(payload, &["mid"]).map(|mid| format!("postback:{mid}")),
        }),
        "referral" => Some(Recognised {
            event: InboundEvent::Referral(referral(payload)?),
            contact: Some(person(item, "sender")?),
            key: None,
        }),
        "optin" => {
            let optin_type = str_at(payload, &["type"]);
            // Only a plugin opt-in (plain `ref`, no `type`) is a user action that opens the
            // window (A9). Marketing (`notification_messages`) and one-time-notification opt-ins
            // do not, and neither does any type we have not seen: failing closed keeps us from
            // sending outside the window.
            let opens_window = optin_type.is_none();
            Some(Recognised {
                event: InboundEvent::Optin {
                    r#ref: str_at(payload, &["ref"]),
                    optin_type,
                    payload: str_at(payload, &["payload"]),
                    opens_window,
                },
                contact: Some(person(item, "sender")?),
                key: None,
            })
        }
        "delivery" => {
            let ids: Vec<String> = array_at(payload, &["mids"])
                .iter()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect();
            let watermark = i64_at(payload, &["watermark"]);
            if watermark.is_none() && ids.is_empty() {
                return None;
            }
            Some(Recognised {
                // Without a watermark only the listed mids are covered; 0 covers nothing else.
                event: InboundEvent::Delivery {
                    watermark: Millis(watermark.unwrap_or(0)),
                    platform_message_ids: ids,
                },
                contact: Some(person(item, "sender")?),
                key: None,
            })
        }
        "read" => Some(Recognised {
            event: InboundEvent::Read {
                watermark: Millis(i64_at(payload, &["watermark"])?),
            },
            contact: Some(person(item, "sender")?),
            key: None,
        }),
        "reaction" => Some(Recognised {
            event: InboundEvent::Reaction {
                platform_message_id: str_at(payload, &["mid"])?,
                reaction: str_at(payload, &["reaction"]),
                emoji: str_at(payload, &["emoji"]),
                removed: str_at(payload, &["action"]).as_deref() == Some("unreact"),
            },
            contact: Some(person(item, "sender")?),
            key: None,
        }),
        "pass_thread_control"
        | "take_thread_control"
        | "request_thread_control"
        | "release_thread_control" => {
            let action = match key {
                "pass_thread_control" => ThreadControl::Pass,
                "take_thread_control" => ThreadControl::Take,
                "request_thread_control" => ThreadControl::Request,
                _ => ThreadControl::Release,
            };
            // Pass/take name the new owner; a request names the app asking for the thread.
            let app_id = id_at(payload, &["new_owner_app_id"])
                .or_else(|| id_at(payload, &["requested_owner_app_id"]));
            Some(Recognised {
                event: InboundEvent::ThreadControl {
                    action,
                    app_id,
                    metadata: str_at(payload, &["metadata"]),
                },
                contact: Some(person(item, "sender")?),
                key: None,
            })
        }
        "policy_enforcement" => Some(Recognised {
            // Page-level: Meta sends it without a sender.
            event: InboundEvent::PolicyEnforcement {
                action: str_at(payload, &["action"])?,
                reason: str_at(payload, &["reason"]),
            },
            contact: None,
            key: None,
        }),
        _ => None,
    }
}

fn message(item: &Value, m: &Value) -> Option<Recognised> {
    let mid = str_at(m, &["mid"])?;
    let content = Content {
        text: str_at(m, &["text"]),
        attachments: array_at(m, &["attachments"])
            .iter()
            .map(attachment)
            .collect(),
        // Also carries the address or number of a user_email / user_phone_number quick reply.
        quick_reply_payload: str_at(m, &["quick_reply", "payload"]),
        reply_to: str_at(m, &["reply_to", "mid"]),
        rich: None,
        persona: None,
    };
    if is_echo(item) {
        let ours = str_at(m, &["metadata"]).is_some_and(|md| md.starts_with(METADATA_PREFIX));
        return Some(Recognised {
            key: Some(format!("echo:{mid}")),
            event: InboundEvent::Echo {
                platform_message_id: mid,
                content,
                ours,
            },
            // The page sent it; the person is on the receiving end.
            contact: Some(person(item, "recipient")?),
        });
    }
    Some(Recognised {
        key: Some(format!("mid:{mid}")),
        event: InboundEvent::Message {
            platform_message_id: mid,
            content,
            referral: at(m, &["referral"]).and_then(referral),
        },
        contact: Some(person(item, "sender")?),
    })
}

fn attachment(a: &Value) -> Attachment {
    let original = str_at(a, &["type"]);
    let kind = match original.as_deref() {
        Some("image") => AttachmentKind::Image,
        Some("video") => AttachmentKind::Video,
        Some("audio") => AttachmentKind::Audio,
        Some("file") => AttachmentKind::File,
        Some("sticker") => AttachmentKind::Sticker,
        Some("fallback") => AttachmentKind::Fallback,
        Some("location") => AttachmentKind::Location,
        // reel, ig_reel, post, ig_post, template, appointment_booking, and whatever comes next.
        _ => AttachmentKind::Other,
    };
    let mut out = Attachment::new(kind);
    out.url = str_at(a, &["payload", "url"]);
    out.title = str_at(a, &["payload", "title"]);
    // Sent on `sticker` attachments and on the duplicate `image` Meta sends until Aug 2026.
    out.platform_ref = id_at(a, &["payload", "sticker_id"]);
    if kind == AttachmentKind::Location {
        out.latitude = f64_at(a, &["payload", "coordinates", "lat"]);
        out.longitude = f64_at(a, &["payload", "coordinates", "long"]);
    }
    if kind == AttachmentKind::Other {
        out.original_type = original;
    }
    out
}

/// A referral object (message/ads, postback, standalone). Meta always sends `source`; if it is
/// ever missing we still keep the `ref` and say `UNKNOWN` rather than drop the referral.
fn referral(r: &Value) -> Option<Referral> {
    r.as_object()?;
    Some(Referral {
        r#ref: str_at(r, &["ref"]),
        source: str_at(r, &["source"]).unwrap_or_else(|| "UNKNOWN".to_owned()),
        ad_id: id_at(r, &["ad_id"]),
        referer_uri: str_at(r, &["referer_uri"]),
    })
}
