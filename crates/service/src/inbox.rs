//! Conversations and contacts as people work with them: listing, reading, changing status,
//! contact facts — each scoped to what the actor may see. Something outside the actor's scope
//! is [`ServiceError::NotFound`], exactly as if it did not exist: an agent learns nothing about
//! another team's customers from an id.

use std::collections::BTreeMap;

use serde_json::json;
use switchboard_automation::engine::on_resolved;
use switchboard_automation::state::AutomationState;
use switchboard_domain::template::AttributeKey;
use switchboard_domain::{ChannelId, ContactId, ConversationId, Millis};
use switchboard_storage::{ContactRow, ConversationRow, MessageRow};

use crate::Service;
use crate::actor::{Actor, Permission};
use crate::error::{ServiceError, ServiceResult};

/// What `PUT …/status` may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    /// Ends a hand-over and gives the conversation back to automations from a clean slate.
    Resolved,
    /// Ends a hand-over but keeps the rest.
    Open,
}

impl StatusChange {
    pub fn parse(raw: &str) -> ServiceResult<StatusChange> {
        match raw {
            "resolved" => Ok(StatusChange::Resolved),
            "open" => Ok(StatusChange::Open),
            _ => Err(ServiceError::Invalid {
                field: "status",
                message: "status is `resolved` or `open`".into(),
            }),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            StatusChange::Resolved => "resolved",
            StatusChange::Open => "open",
        }
    }
}

impl Service {
    /// A conversation the actor may read, or `NotFound`.
    pub async fn readable_conversation(
        &self,
        actor: &Actor,
        id: ConversationId,
    ) -> ServiceResult<ConversationRow> {
        let scope = self.conversation_scope(actor).await?;
        let conversation = self.store.get_conversation(id).await?;
        if scope.includes(conversation.channel_id) {
            Ok(conversation)
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// A conversation the actor may write in (reply, note, tag, status).
    pub async fn writable_conversation(
        &self,
        actor: &Actor,
        id: ConversationId,
    ) -> ServiceResult<ConversationRow> {
        let conversation = self.readable_conversation(actor, id).await?;
        actor.require(Permission::Reply)?;
        Ok(conversation)
    }

    async fn visible_contact(&self, actor: &Actor, id: ContactId) -> ServiceResult<ContactRow> {
        let scope = self.contact_scope(actor).await?;
        let contact = self.store.get_contact(id).await?;
        if scope.includes(contact.channel_id) {
            Ok(contact)
        } else {
            Err(ServiceError::NotFound)
        }
    }

    async fn visible_channel(
        &self,
        scope: &crate::actor::Scope,
        channel: ChannelId,
    ) -> ServiceResult<ChannelId> {
        if !scope.includes(channel) {
            return Err(ServiceError::NotFound);
        }
        Ok(channel)
    }

    pub async fn conversation_messages(
        &self,
        actor: &Actor,
        id: ConversationId,
    ) -> ServiceResult<Vec<MessageRow>> {
        let conversation = self.readable_conversation(actor, id).await?;
        Ok(self.store.list_messages(conversation.id).await?)
    }

    pub async fn list_contacts(
        &self,
        actor: &Actor,
        channel: ChannelId,
    ) -> ServiceResult<Vec<ContactRow>> {
        let scope = self.contact_scope(actor).await?;
        let channel = self.visible_channel(&scope, channel).await?;
        Ok(self.store.list_contacts(channel).await?)
    }

    pub async fn contact(&self, actor: &Actor, id: ContactId) -> ServiceResult<ContactRow> {
        self.visible_contact(actor, id).await
    }

    /// Unsubscribes (no marketing until they resubscribe) or resubscribes a person, e.g. at
    /// their request by another channel.
    pub async fn set_subscription(
        &self,
        actor: &Actor,
        id: ContactId,
        subscribed: bool,
    ) -> ServiceResult<ContactRow> {
        let contact = self.visible_contact(actor, id).await?;
        actor.require(Permission::ManageContacts)?;
        self.store
            .set_subscribed(contact.id, subscribed, Millis::now())
            .await?;
        self.audit(
            actor,
            "contact.subscription",
            Some(format!("contact:{id}")),
            json!({ "subscribed": subscribed }),
        )
        .await?;
        Ok(self.store.get_contact(contact.id).await?)
    }

    /// Sets or removes custom attributes; only keys declared on the contact's channel. Agents
    /// may edit the contacts of their conversations (the context card), as contact managers may.
    pub async fn patch_attributes(
        &self,
        actor: &Actor,
        id: ContactId,
        changes: BTreeMap<String, Option<String>>,
    ) -> ServiceResult<ContactRow> {
        let contact = self.visible_contact(actor, id).await?;
        if !actor.may(Permission::ManageContacts) {
            actor.require(Permission::Reply)?;
        }
        let channel = self.registry.get(contact.channel_id).await?;
        for (key, value) in &changes {
            AttributeKey::parse(key).map_err(|e| ServiceError::Invalid {
                field: "attributes",
                message: e.to_string(),
            })?;
            if !channel.record.attribute_keys.contains(key) {
                return Err(ServiceError::Invalid {
                    field: "attributes",
                    message: format!(
                        "{key:?} is not declared on this channel (PUT /api/v1/channels/{}/attribute-keys)",
                        channel.record.id
                    ),
                });
            }
            if value.as_ref().is_some_and(|v| v.chars().count() > 1000) {
                return Err(ServiceError::Invalid {
                    field: "attributes",
                    message: format!("the value of {key:?} is longer than 1000 characters"),
                });
            }
        }
        self.store
            .merge_contact_attributes(contact.id, &changes, Millis::now())
            .await?;
        Ok(self.store.get_contact(contact.id).await?)
    }

    /// Resolving ends a hand-over and gives the conversation back to automations from a clean
    /// slate (the next message starts a new conversation); `open` ends a hand-over but keeps the
    /// rest. Retried a few times against concurrent automation decisions (compare-and-set).
    pub async fn set_status(
        &self,
        actor: &Actor,
        id: ConversationId,
        status: StatusChange,
    ) -> ServiceResult<ConversationRow> {
        let row = self.writable_conversation(actor, id).await?;
        let conversation = row.id;
        for _ in 0..5 {
            let (raw, _) = self.store.conversation_automation(conversation).await?;
            let current: AutomationState = serde_json::from_str(&raw).unwrap_or_default();
            let next = match status {
                StatusChange::Resolved => on_resolved(&current),
                StatusChange::Open => AutomationState {
                    handover: None,
                    unrecognised: 0,
                    ..current
                },
            };
            let json = serde_json::to_string(&next).map_err(|_| ServiceError::Internal)?;
            if self
                .store
                .set_conversation_automation(conversation, &raw, &json, status.as_str())
                .await?
            {
                self.audit(
                    actor,
                    "conversation.status",
                    Some(format!("conversation:{id}")),
                    json!({ "status": status.as_str() }),
                )
                .await?;
                self.emit(
                    "conversation.updated",
                    &row,
                    None,
                    json!({ "status": status.as_str() }),
                )
                .await?;
                return Ok(self.store.get_conversation(conversation).await?);
            }
        }
        Err(ServiceError::Conflict(
            "the conversation changed while being updated; try again".into(),
        ))
    }
}

impl Service {
    /// Connects a page or bot. Connecting the same one twice is a conflict.
    pub async fn connect_channel(
        &self,
        actor: &Actor,
        new: switchboard_storage::NewChannel,
    ) -> ServiceResult<std::sync::Arc<crate::registry::LiveChannel>> {
        actor.require(Permission::ManageChannels)?;
        let record = match self.store.create_channel(new).await {
            Err(switchboard_storage::StoreError::Conflict(_)) => {
                return Err(ServiceError::Conflict(
                    "this page or bot is already connected".into(),
                ));
            }
            other => other?,
        };
        tracing::info!(channel = %record.id, kind = record.kind.as_str(), "channel connected");
        self.audit(
            actor,
            "channel.connected",
            Some(format!("channel:{}", record.id)),
            json!({ "kind": record.kind.as_str(), "name": record.name }),
        )
        .await?;
        Ok(self.registry.insert(record))
    }

    pub async fn list_channels(
        &self,
        actor: &Actor,
    ) -> ServiceResult<Vec<switchboard_storage::ChannelRecord>> {
        actor.require(Permission::ViewChannels)?;
        Ok(self.store.list_channels().await?)
    }

    /// Declares the custom contact attributes templates may use (`{{attr.<key>}}`).
    pub async fn set_attribute_keys(
        &self,
        actor: &Actor,
        channel: ChannelId,
        keys: Vec<String>,
    ) -> ServiceResult<std::sync::Arc<crate::registry::LiveChannel>> {
        actor.require(Permission::ManageChannels)?;
        let mut parsed = Vec::with_capacity(keys.len());
        for key in keys {
            let key = AttributeKey::parse(&key).map_err(|e| ServiceError::Invalid {
                field: "keys",
                message: e.to_string(),
            })?;
            parsed.push(key.as_str().to_owned());
        }
        parsed.sort();
        parsed.dedup();
        self.store.set_attribute_keys(channel, &parsed).await?;
        Ok(self.registry.reload(channel).await?)
    }

    /// Stores an uploaded medium for later messages.
    pub async fn upload_media(
        &self,
        actor: &Actor,
        new: switchboard_storage::NewMedia,
    ) -> ServiceResult<switchboard_storage::MediaInfo> {
        actor.require(Permission::Compose)?;
        Ok(self.store.create_media(new).await?)
    }

    pub async fn media_info(
        &self,
        actor: &Actor,
        id: i64,
    ) -> ServiceResult<switchboard_storage::MediaInfo> {
        actor.require(Permission::Compose)?;
        Ok(self.store.get_media(id).await?)
    }
}

impl Service {
    /// Everything Switchboard holds about a person, as one JSON document. Audited.
    pub async fn export_contact(
        &self,
        actor: &Actor,
        id: ContactId,
    ) -> ServiceResult<switchboard_storage::ContactExport> {
        let contact = self.visible_contact(actor, id).await?;
        actor.require(Permission::ContactDataRights)?;
        let export = self.store.export_contact(contact.id, Millis::now()).await?;
        self.audit(
            actor,
            "contact.exported",
            Some(format!("contact:{id}")),
            json!({}),
        )
        .await?;
        Ok(export)
    }

    /// Erases a person's data (texts, media references, name, attributes, tags, notes, raw
    /// payloads); anonymous counts for reports stay. Audited — the audit line names the contact
    /// id, never what was erased.
    pub async fn erase_contact(&self, actor: &Actor, id: ContactId) -> ServiceResult<()> {
        let contact = self.visible_contact(actor, id).await?;
        actor.require(Permission::ContactDataRights)?;
        self.store.erase_contact(contact.id, Millis::now()).await?;
        self.audit(
            actor,
            "contact.erased",
            Some(format!("contact:{id}")),
            json!({}),
        )
        .await
    }
}
