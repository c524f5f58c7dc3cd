//! Composing a message for one conversation: the single path every sender goes through before
//! anything is queued — the send API for agents, and (internally) automations and campaigns.
//!
//! Order: personalise every visible text (an unknown variable is an error here, never a literal
//! `{{…}}` in a chat) → check every platform limit of the rendered message → check its media →
//! lint (errors block, warnings come back) → the channel's policy profile → split for the
//! platform (a Telegram carousel becomes one message per card) → queue.

use std::collections::BTreeMap;

use serde::Serialize;
use switchboard_domain::policy::{
    ChannelFacts, ContactFacts, MessagingType, PolicyDecision, PolicyProfile, SendIntent, decide,
};
use switchboard_domain::rich::Violation;
use switchboard_domain::template::{AttributeKey, PersonalisationContext, Template, Variables};
use switchboard_domain::{
    AuthorKind, ChannelKind, ChannelSettings, Content, ConversationId, MediaKind, MediaSource,
    MessageBody, MessageId, Millis, OutgoingMessage, Persona,
};
use switchboard_lint::{Finding, LintContext, Linter, Severity};
use switchboard_storage::{Lane, OutgoingDraft, OutgoingItem, SendContext, Store};

use crate::error::ServiceError;
use crate::registry::ChannelRegistry;

/// Bulk sends older than this cannot matter to any shipped frequency cap.
const BULK_HISTORY_MS: i64 = 7 * 24 * 3600 * 1000;

/// What a sender asks for.
#[derive(Debug, Clone)]
pub struct Draft {
    /// The message, with `{{placeholders}}` in its visible texts.
    pub message: OutgoingMessage,
    pub author: AuthorKind,
    pub lane: Lane,
    /// Marketing content: refused outside the messaging window and to unsubscribed contacts.
    pub promotional: bool,
    /// A Messenger message tag to ask for; the policy decides whether it applies.
    pub tag: Option<String>,
    /// Spell-check language; defaults to the contact's locale.
    pub language: Option<String>,
    /// Lint at send time. Automations lint their texts when they are saved instead.
    pub lint: bool,
    /// Who the message appears to come from (a bot flow's persona); `None` = the page or bot.
    pub persona: Option<Persona>,
}

/// A lint finding with the field of the message it is about.
#[derive(Debug, Clone, Serialize)]
pub struct FieldFinding {
    pub field: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// What was queued, and why it was allowed.
#[derive(Debug, Clone)]
pub struct Queued {
    /// One id per message that will go out (several for a Telegram carousel).
    pub ids: Vec<MessageId>,
    pub decision: PolicyDecision,
    pub profile: String,
    pub findings: Vec<FieldFinding>,
}

/// A composed message, ready to be written.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub items: Vec<OutgoingItem>,
    pub decision: PolicyDecision,
    pub profile: String,
    pub findings: Vec<FieldFinding>,
}

/// Everything composing needs; cheap to clone.
#[derive(Clone)]
pub struct Composer {
    pub store: Store,
    pub registry: ChannelRegistry,
    pub linter: std::sync::Arc<Linter>,
    /// Where this server is reachable from the internet, for media a platform can only fetch.
    pub public_url: Option<String>,
}

impl Composer {
    /// Composes `draft` for a conversation and queues it, or says precisely why not.
    pub async fn queue(
        &self,
        conversation: ConversationId,
        draft: Draft,
        now: Millis,
    ) -> Result<Queued, ServiceError> {
        let prepared = self.prepare(conversation, draft, now).await?;
        let ids = self.store.enqueue(&prepared.items).await?;
        Ok(Queued {
            ids,
            decision: prepared.decision,
            profile: prepared.profile,
            findings: prepared.findings,
        })
    }

    /// Everything but the queueing: the rows to write, for callers that write them in their own
    /// transaction (automations).
    pub async fn prepare(
        &self,
        conversation: ConversationId,
        draft: Draft,
        now: Millis,
    ) -> Result<Prepared, ServiceError> {
        self.prepare_with(conversation, draft, now, &BTreeMap::new())
            .await
    }

    /// [`Composer::prepare`], personalising with `pending_attributes` over the stored ones
    /// (attributes captured by the same decision, not yet written).
    pub async fn prepare_with(
        &self,
        conversation: ConversationId,
        draft: Draft,
        now: Millis,
        pending_attributes: &BTreeMap<String, String>,
    ) -> Result<Prepared, ServiceError> {
        let ctx = self
            .store
            .send_context(conversation, Self::bulk_history_since(now))
            .await?;
        self.prepare_in(&ctx, draft, now, pending_attributes).await
    }

    /// The oldest bulk send a [`SendContext`] must know of for the frequency caps.
    pub fn bulk_history_since(now: Millis) -> Millis {
        now.plus_millis(-BULK_HISTORY_MS)
    }

    /// [`Composer::prepare_with`] on a context the caller already read (automations read
    /// a whole batch's contexts at once).
    pub async fn prepare_in(
        &self,
        ctx: &SendContext,
        draft: Draft,
        now: Millis,
        pending_attributes: &BTreeMap<String, String>,
    ) -> Result<Prepared, ServiceError> {
        let channel = self.registry.get(ctx.conversation.channel_id).await?;
        let kind = channel.record.kind;

        let personal = PersonalisationContext {
            first_name: ctx.contact.first_name.clone(),
            last_name: ctx.contact.last_name.clone(),
            channel_name: channel.record.name.clone(),
            attributes: ctx
                .contact
                .attributes
                .iter()
                .chain(pending_attributes)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let variables = Variables::with_attributes(
            channel
                .record
                .attribute_keys
                .iter()
                .filter_map(|k| AttributeKey::parse(k).ok()),
        );
        let message = personalise(&draft.message, &variables, &personal)?;
        message.check(kind).map_err(ServiceError::Limits)?;
        self.check_media(&message, kind).await?;

        let findings = if draft.lint {
            let language = draft
                .language
                .clone()
                .or_else(|| ctx.contact.locale.clone());
            self.lint(&message, kind, language, draft.promotional)
                .await?
        } else {
            Vec::new()
        };
        if findings
            .iter()
            .any(|f| f.finding.severity == Severity::Error)
        {
            return Err(ServiceError::Lint(findings));
        }

        let (decision, profile) = policy(ctx, &channel.record.settings, kind, &draft, now)?;
        let messaging_type = match &decision {
            PolicyDecision::Deny { rule, explanation } => {
                return Err(ServiceError::Policy {
                    rule: rule.to_string(),
                    explanation: explanation.clone(),
                    profile,
                });
            }
            PolicyDecision::Allow {
                messaging_type,
                tag,
            } => stored_messaging_type(*messaging_type, tag.as_deref()),
        };

        let items: Vec<OutgoingItem> = message
            .split_for(kind)
            .into_iter()
            .map(|part| OutgoingItem {
                conversation_id: ctx.conversation.id,
                draft: OutgoingDraft {
                    content: Content {
                        persona: draft.persona.clone(),
                        ..Content::rich(part)
                    },
                    author: draft.author,
                    lane: draft.lane,
                    messaging_type: messaging_type.clone(),
                },
            })
            .collect();
        Ok(Prepared {
            items,
            decision,
            profile,
            findings,
        })
    }

    /// Lint of every visible text, each finding labelled with its field. Spell checking takes
    /// tens of milliseconds when it suggests: it runs off the async workers.
    pub async fn lint(
        &self,
        message: &OutgoingMessage,
        kind: ChannelKind,
        language: Option<String>,
        promotional: bool,
    ) -> Result<Vec<FieldFinding>, ServiceError> {
        let texts: Vec<(String, String)> = message
            .visible_texts()
            .into_iter()
            .map(|(path, text)| (path, text.to_owned()))
            .collect();
        let linter = self.linter.clone();
        tokio::task::spawn_blocking(move || {
            let ctx = LintContext {
                language,
                channel: kind,
                promotional,
            };
            texts
                .into_iter()
                .flat_map(|(field, text)| {
                    linter
                        .lint(&text, &ctx)
                        .into_iter()
                        .map(move |finding| FieldFinding {
                            field: field.clone(),
                            finding,
                        })
                })
                .collect()
        })
        .await
        .map_err(|_| ServiceError::Internal)
    }

    /// Every uploaded medium exists, is of the kind the message says, fits the platform's upload
    /// limit, and — for Messenger card images, which Meta only fetches by URL — can be served.
    async fn check_media(
        &self,
        message: &OutgoingMessage,
        kind: ChannelKind,
    ) -> Result<(), ServiceError> {
        let ids = message.media_ids();
        if ids.is_empty() {
            return Ok(());
        }
        let infos = self.store.media_infos(&ids).await?;
        let mut found = Vec::new();
        let mut check = |path: String, id: i64, expected: MediaKind, card_image: bool| {
            let Some(info) = infos.get(&id) else {
                found.push(violation(
                    path,
                    "media_not_found",
                    format!("no uploaded media with id {id}"),
                ));
                return;
            };
            if info.kind != expected {
                found.push(violation(
                    path.clone(),
                    "media_kind",
                    format!(
                        "media {id} is {} but is used as {}",
                        info.kind.as_str(),
                        expected.as_str()
                    ),
                ));
            }
            let max = expected.max_upload_bytes(kind);
            if u64::try_from(info.size_bytes).unwrap_or(u64::MAX) > max {
                found.push(violation(
                    path.clone(),
                    "media_too_large",
                    format!(
                        "media {id} is {} bytes; {} accepts at most {max} for {}",
                        info.size_bytes,
                        kind.as_str(),
                        expected.as_str()
                    ),
                ));
            }
            if card_image && kind == ChannelKind::Messenger && self.public_url.is_none() {
                found.push(violation(
                    path,
                    "card_image_needs_public_url",
                    "Messenger fetches card images by URL: set the server's public URL, or send the image as a media message",
                ));
            }
        };
        match &message.body {
            MessageBody::Media {
                kind: media_kind,
                media: MediaSource::Uploaded { media_id },
                ..
            } => check("media".into(), *media_id, *media_kind, false),
            MessageBody::Cards { cards } => {
                for (i, card) in cards.iter().enumerate() {
                    if let Some(MediaSource::Uploaded { media_id }) = &card.image {
                        check(
                            format!("cards[{i}].image"),
                            *media_id,
                            MediaKind::Image,
                            true,
                        );
                    }
                }
            }
            _ => {}
        }
        if found.is_empty() {
            Ok(())
        } else {
            Err(ServiceError::Media(found))
        }
    }
}

fn violation(path: String, rule: &'static str, message: impl Into<String>) -> Violation {
    Violation {
        path,
        rule,
        message: message.into(),
    }
}

/// Renders the placeholders of every visible text for this contact.
pub fn personalise(
    message: &OutgoingMessage,
    variables: &Variables,
    personal: &PersonalisationContext,
) -> Result<OutgoingMessage, ServiceError> {
    message
        .map_texts(|_, text| {
            Template::parse_checked(text, variables)
                .map(|template| template.render(personal).into_string())
        })
        .map_err(|(field, errors)| ServiceError::Template { field, errors })
}

fn policy(
    ctx: &SendContext,
    settings: &ChannelSettings,
    kind: ChannelKind,
    draft: &Draft,
    now: Millis,
) -> Result<(PolicyDecision, String), ServiceError> {
    let profile = PolicyProfile::builtin_for(kind, now).ok_or(ServiceError::Internal)?;
    let facts = match settings {
        ChannelSettings::Messenger(m) => {
            ChannelFacts::messenger(m.human_agent_permission, m.utility_messaging_permission)
        }
        ChannelSettings::Telegram(_) => ChannelFacts::telegram(),
    };
    let mut intent = SendIntent::reply(facts, draft.author)
        .with_lane(draft.lane)
        .with_promotional(draft.promotional);
    if let Some(tag) = &draft.tag {
        intent = intent.with_tag(tag.clone());
    }
    let contact = ContactFacts {
        last_window_action_at: ctx.contact.last_window_action_at,
        last_message_at: ctx.last_inbound_at,
        reachable: ctx.contact.reachable,
        subscribed: ctx.contact.subscribed,
        recent_bulk_sends: ctx.recent_bulk.clone(),
    };
    Ok((decide(&profile, &intent, &contact, now), profile.label()))
}

/// How the outbox row records the policy's choice (read back by the dispatcher).
fn stored_messaging_type(messaging_type: MessagingType, tag: Option<&str>) -> Option<String> {
    match (messaging_type.graph_value(), tag) {
        (Some("MESSAGE_TAG"), Some(tag)) => Some(format!("MESSAGE_TAG:{tag}")),
        (value, _) => value.map(str::to_owned),
    }
}
