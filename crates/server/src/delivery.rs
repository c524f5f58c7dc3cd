//! Handing one outbox row to its platform: the rich message, with its media resolved.
//!
//! For each uploaded medium the message names, the channel either already holds a platform
//! handle (reused), or gets the bytes (uploaded by the client, the new handle remembered after
//! the send). Messenger card images are the exception: Meta only fetches them by URL, so they
//! are given this server's public media URL.

use switchboard_channels::messenger::{METADATA_PREFIX, MessagingType, MessengerClient};
use switchboard_channels::{Delivered, MediaInput, MediaSet};
use switchboard_domain::{
    ChannelKind, ExternalUserId, MediaSource, MessageBody, Millis, OutgoingMessage, Persona, Psid,
    SendError, SendErrorClass, TelegramChatId,
};
use switchboard_storage::{OutboxJob, Store};

use crate::registry::{LiveChannel, PlatformClient};

/// Sends the row's message. Media handles learned on the way are saved for the next send.
pub async fn deliver(
    store: &Store,
    public_url: Option<&str>,
    channel: &LiveChannel,
    job: &OutboxJob,
) -> Result<Delivered, SendError> {
    let Some(message) = job.content.outgoing() else {
        return Err(permanent(
            SendErrorClass::BadRequest,
            "the message has nothing to send",
        ));
    };
    let media = resolve_media(store, public_url, channel, &message).await?;
    let delivered = match &channel.client {
        PlatformClient::Messenger(m) => {
            let psid = Psid::parse(job.recipient.as_str())
                .map_err(|e| permanent(SendErrorClass::InvalidRecipient, &e.to_string()))?;
            let messaging_type = messaging_type(job.messaging_type.as_deref());
            let metadata = format!("{METADATA_PREFIX}{}", job.message_id);
            let persona = match &job.content.persona {
                Some(persona) => messenger_persona(store, channel, m, persona).await?,
                None => None,
            };
            m.send_message(
                &psid,
                &message,
                &messaging_type,
                Some(&metadata),
                persona.as_deref(),
                &media,
            )
            .await?
        }
        PlatformClient::Telegram(t) => {
            let chat = chat_id(&job.recipient)?;
            t.send_message(chat, &message, &media).await?
        }
    };
    if !delivered.learned.is_empty()
        && let Err(e) = store
            .save_media_platform_refs(channel.record.id, &delivered.learned, Millis::now())
            .await
    {
        // Only an optimisation is lost: the next send uploads the bytes again.
        tracing::warn!(error = %e, "could not remember uploaded media handles");
    }
    Ok(delivered)
}

/// The Messenger persona id to send as: remembered per channel, created on first use.
///
/// A persona is a face, not the message: when Meta refuses to create it for good (no picture,
/// a missing permission) the message goes out as the page rather than not at all. A transient
/// failure is returned, so the row is retried; the message itself was not sent.
async fn messenger_persona(
    store: &Store,
    channel: &LiveChannel,
    client: &MessengerClient,
    persona: &Persona,
) -> Result<Option<String>, SendError> {
    let Some(picture) = persona.avatar_url.as_deref() else {
        tracing::debug!(persona = %persona.name, "persona without a picture: sending as the page");
        return Ok(None);
    };
    let unavailable =
        |e: switchboard_storage::StoreError| SendError::transport(format!("personas: {e}"), true);
    let id = channel.record.id;
    if let Some(known) = store
        .persona_platform_id(id, &persona.name, picture)
        .await
        .map_err(unavailable)?
    {
        return Ok(Some(known));
    }
    match client.create_persona(&persona.name, picture).await {
        Ok(created) => store
            .save_persona_platform_id(id, &persona.name, picture, &created, Millis::now())
            .await
            .map(Some)
            .map_err(unavailable),
        // Worth another try, or the whole channel is broken: the message waits.
        Err(e) if e.class.is_retryable() || e.class == SendErrorClass::AuthBroken => Err(e),
        Err(e) => {
            tracing::warn!(channel = %id, persona = %persona.name, error = %e,
                "Meta refused the persona: sending as the page");
            Ok(None)
        }
    }
}

/// How this channel can get at each uploaded medium of the message.
async fn resolve_media(
    store: &Store,
    public_url: Option<&str>,
    channel: &LiveChannel,
    message: &OutgoingMessage,
) -> Result<MediaSet, SendError> {
    let ids = message.media_ids();
    let mut set = MediaSet::new();
    if ids.is_empty() {
        return Ok(set);
    }
    let unavailable = |e: switchboard_storage::StoreError| {
        SendError::transport(format!("media unavailable: {e}"), true)
    };
    let card_images: Vec<i64> = match &message.body {
        MessageBody::Cards { cards } => cards
            .iter()
            .filter_map(|c| match &c.image {
                Some(MediaSource::Uploaded { media_id }) => Some(*media_id),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let known = store
        .media_platform_refs(channel.record.id, &ids, Millis::now())
        .await
        .map_err(unavailable)?;
    for id in ids {
        if channel.record.kind == ChannelKind::Messenger && card_images.contains(&id) {
            let base = public_url.ok_or_else(|| {
                permanent(
                    SendErrorClass::BadRequest,
                    "Messenger card images need the server's public URL",
                )
            })?;
            let info = store.get_media(id).await.map_err(unavailable)?;
            set.insert(
                id,
                MediaInput::PublicUrl(crate::api::media::public_url(base, &info)),
            );
            continue;
        }
        if let Some(handle) = known.get(&id) {
            set.insert(id, MediaInput::PlatformRef(handle.clone()));
            continue;
        }
        let (info, bytes) = store.media_data(id).await.map_err(unavailable)?;
        set.insert(
            id,
            MediaInput::File {
                bytes: bytes.into(),
                filename: info.filename,
                mime_type: info.mime_type,
            },
        );
    }
    Ok(set)
}

/// `RESPONSE`, `UPDATE` or `MESSAGE_TAG:<TAG>` as stored on the outbox row.
fn messaging_type(stored: Option<&str>) -> MessagingType {
    match stored {
        Some("UPDATE") => MessagingType::Update,
        Some(other) if other.starts_with("MESSAGE_TAG:") => {
            MessagingType::MessageTag(other.trim_start_matches("MESSAGE_TAG:").to_owned())
        }
        _ => MessagingType::Response,
    }
}

fn chat_id(recipient: &ExternalUserId) -> Result<TelegramChatId, SendError> {
    TelegramChatId::try_from(recipient)
        .map_err(|_| permanent(SendErrorClass::InvalidRecipient, "not a Telegram chat id"))
}

pub(crate) fn permanent(class: SendErrorClass, detail: &str) -> SendError {
    SendError {
        class,
        code: None,
        subcode: None,
        retry_after_secs: None,
        detail: detail.to_owned(),
        not_delivered_to_platform: true,
    }
}
