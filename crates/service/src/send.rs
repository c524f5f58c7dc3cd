//! Saying something to a customer as a person: the role and scope checks, then the compose path
//! (template → limits → media → lint → policy), then the outbox — with an optional idempotency
//! key that makes a retried request queue nothing twice.

use serde_json::{Value, json};
use switchboard_domain::{AuthorKind, ConversationId, MessageId, Millis};
use switchboard_storage::{
    IdempotencyKey, Idempotent, Lane, MessageRow, ScheduledOutcome, ScheduledRow, StoredResponse,
};

use crate::Service;
use crate::actor::{Actor, Credential};
use crate::compose::Draft;
use crate::error::{ServiceError, ServiceResult};

/// What a person asks to send (the API's and the composer's request). Kept as it is for a
/// message sent later, and composed again when it falls due.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AgentMessage {
    pub message: switchboard_domain::OutgoingMessage,
    pub promotional: bool,
    pub tag: Option<String>,
    pub language: Option<String>,
}

/// A client's retry key and the hash of the request it came with.
#[derive(Debug, Clone, Copy)]
pub struct Retry<'a> {
    pub key: &'a str,
    pub request_hash: &'a str,
}

/// The response of a send: what was queued and why it was allowed, as the JSON the API returns
/// (byte for byte the same on a replay).
#[derive(Debug, Clone)]
pub struct Sent {
    pub status: u16,
    pub body: String,
}

impl Service {
    pub async fn send_message(
        &self,
        actor: &Actor,
        id: ConversationId,
        request: AgentMessage,
        retry: Option<Retry<'_>>,
    ) -> ServiceResult<Sent> {
        let conversation = self.writable_conversation(actor, id).await?.id;
        let draft = agent_draft(request);
        let now = Millis::now();
        let Some(retry) = retry else {
            let queued = self.composer().queue(conversation, draft, now).await?;
            self.wake.notify_waiters();
            let mut messages = Vec::with_capacity(queued.ids.len());
            for id in &queued.ids {
                messages.push(self.store.get_message(*id).await?);
            }
            let body = created_body(
                &messages,
                &queued.decision,
                &queued.profile,
                &queued.findings,
            );
            return Ok(Sent {
                status: 201,
                body: body.to_string(),
            });
        };
        // A key is the caller's own: the same key from another person is another request.
        let scope = format!("POST /api/v1/conversations/{id}/messages {}", actor.label());
        if let Some(stored) = self.store.stored_response(&scope, retry.key, now).await? {
            return replay(stored, retry.request_hash);
        }
        let prepared = self.composer().prepare(conversation, draft, now).await?;
        let outcome = self
            .store
            .enqueue_once(
                &prepared.items,
                IdempotencyKey {
                    scope: &scope,
                    key: retry.key,
                    request_hash: retry.request_hash,
                },
                now,
                |messages| {
                    let body = created_body(
                        messages,
                        &prepared.decision,
                        &prepared.profile,
                        &prepared.findings,
                    );
                    (201, body.to_string())
                },
            )
            .await?;
        match outcome {
            Idempotent::Created(stored) => {
                self.wake.notify_waiters();
                replay(stored, retry.request_hash)
            }
            Idempotent::Replay(stored) => replay(stored, retry.request_hash),
        }
    }
}

fn agent_draft(request: AgentMessage) -> Draft {
    Draft {
        message: request.message,
        author: AuthorKind::Agent,
        lane: Lane::Reply,
        promotional: request.promotional,
        tag: request.tag,
        language: request.language,
        lint: true,
        persona: None,
    }
}

/// How long ahead a message may be scheduled.
const MAX_AHEAD_MS: i64 = 30 * 24 * 3_600_000;
/// How long a node holds a due message while composing and queueing it.
const SCHEDULED_LEASE_MS: i64 = 60_000;

impl Service {
    /// An agent message to send at `send_at`. Checked now as if sent now (templates, limits,
    /// media, lint, policy) — and again, in full, when it falls due.
    pub async fn schedule_message(
        &self,
        actor: &Actor,
        id: ConversationId,
        request: AgentMessage,
        send_at: Millis,
    ) -> ServiceResult<ScheduledRow> {
        let conversation = self.writable_conversation(actor, id).await?.id;
        let now = Millis::now();
        if send_at <= now || send_at.0 - now.0 > MAX_AHEAD_MS {
            return Err(ServiceError::Invalid {
                field: "send_at",
                message: "send_at is in the future, at most 30 days ahead".into(),
            });
        }
        self.composer()
            .prepare(conversation, agent_draft(request.clone()), now)
            .await?;
        let json = serde_json::to_string(&request).map_err(|_| ServiceError::Internal)?;
        let row = self
            .store
            .schedule_message(conversation, actor.user_id(), &json, send_at, now)
            .await?;
        self.audit(
            actor,
            "message.scheduled",
            Some(format!("conversation:{id}")),
            serde_json::json!({ "scheduled_message": row.id, "send_at": send_at }),
        )
        .await?;
        Ok(row)
    }

    /// A scheduled message the actor may see (its conversation is readable).
    pub async fn scheduled_message(&self, actor: &Actor, id: i64) -> ServiceResult<ScheduledRow> {
        let row = self.store.get_scheduled(id).await?;
        self.readable_conversation(actor, row.conversation_id)
            .await?;
        Ok(row)
    }

    pub async fn scheduled_messages(
        &self,
        actor: &Actor,
        conversation: ConversationId,
    ) -> ServiceResult<Vec<ScheduledRow>> {
        self.readable_conversation(actor, conversation).await?;
        Ok(self.store.list_scheduled(conversation).await?)
    }

    /// Cancels a message not yet taken for sending.
    pub async fn cancel_scheduled(&self, actor: &Actor, id: i64) -> ServiceResult<()> {
        let row = self.store.get_scheduled(id).await?;
        self.writable_conversation(actor, row.conversation_id)
            .await?;
        if !self.store.cancel_scheduled(id, Millis::now()).await? {
            return Err(ServiceError::Conflict(format!(
                "this message is {} and can no longer be cancelled",
                row.status
            )));
        }
        self.audit(
            actor,
            "message.schedule_cancelled",
            Some(format!("scheduled_message:{id}")),
            serde_json::json!({}),
        )
        .await
    }

    /// Sends what has fallen due: each message is composed again now — its author must still
    /// be active and allowed to write there, and policy and lint decide afresh. A refusal is
    /// recorded with its rule, for the agent to see. Returns how many were handled.
    pub async fn send_due_scheduled(&self) -> ServiceResult<usize> {
        let now = Millis::now();
        let due = self
            .store
            .claim_due_scheduled(now, SCHEDULED_LEASE_MS, 50)
            .await?;
        let handled = due.len();
        for row in due {
            match self.send_scheduled(&row).await {
                Ok(ids) => {
                    self.store
                        .finish_scheduled(row.id, ScheduledOutcome::Sent(&ids), Millis::now())
                        .await?;
                }
                Err(ServiceError::Unavailable) => {
                    // The lease runs out and another try takes it.
                    tracing::warn!(
                        scheduled = row.id,
                        "scheduled message deferred: database unavailable"
                    );
                }
                Err(refusal) => {
                    let (rule, detail) = refusal_reason(&refusal);
                    tracing::info!(
                        scheduled = row.id,
                        rule,
                        "scheduled message refused when due"
                    );
                    self.store
                        .finish_scheduled(
                            row.id,
                            ScheduledOutcome::Refused {
                                rule: &rule,
                                detail: &detail,
                            },
                            Millis::now(),
                        )
                        .await?;
                }
            }
        }
        if handled > 0 {
            self.wake.notify_waiters();
        }
        Ok(handled)
    }

    async fn send_scheduled(&self, row: &ScheduledRow) -> ServiceResult<Vec<MessageId>> {
        let request: AgentMessage =
            serde_json::from_str(&row.request).map_err(|_| ServiceError::Internal)?;
        let author = match row.author_id {
            Some(id) => {
                let user = self.store.get_user(id).await?;
                if !user.active {
                    return Err(ServiceError::AuthorInactive);
                }
                Actor::user(user, Credential::System, None)
            }
            None => Actor::system(),
        };
        self.writable_conversation(&author, row.conversation_id)
            .await?;
        let now = Millis::now();
        let prepared = self
            .composer()
            .prepare(row.conversation_id, agent_draft(request), now)
            .await?;
        let key = row.id.to_string();
        let outcome = self
            .store
            .enqueue_once(
                &prepared.items,
                IdempotencyKey {
                    scope: "scheduled",
                    key: &key,
                    request_hash: &key,
                },
                now,
                |messages| {
                    let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
                    (201, serde_json::to_string(&ids).unwrap_or_default())
                },
            )
            .await?;
        let (Idempotent::Created(stored) | Idempotent::Replay(stored)) = outcome;
        serde_json::from_str(&stored.body).map_err(|_| ServiceError::Internal)
    }
}

/// The rule a refusal names, and what to tell the agent.
fn refusal_reason(e: &ServiceError) -> (String, String) {
    match e {
        ServiceError::Policy {
            rule, explanation, ..
        } => (rule.clone(), explanation.clone()),
        ServiceError::Lint(_) => ("lint_failed".into(), e.to_string()),
        ServiceError::Template { .. } => ("invalid_template".into(), e.to_string()),
        ServiceError::Limits(_) => ("message_invalid".into(), e.to_string()),
        ServiceError::Media(_) => ("media_invalid".into(), e.to_string()),
        ServiceError::AuthorInactive => ("author_inactive".into(), e.to_string()),
        ServiceError::NotFound | ServiceError::Forbidden(_) => (
            "author_not_allowed".into(),
            "the author may no longer write in this conversation".into(),
        ),
        other => ("internal".into(), other.to_string()),
    }
}

/// The stored first response — if it answered this very request.
fn replay(stored: StoredResponse, request_hash: &str) -> ServiceResult<Sent> {
    if stored.request_hash != request_hash {
        return Err(ServiceError::IdempotencyKeyReused);
    }
    Ok(Sent {
        status: stored.status,
        body: stored.body,
    })
}

fn created_body(
    messages: &[MessageRow],
    decision: &impl serde::Serialize,
    profile: &str,
    findings: &impl serde::Serialize,
) -> Value {
    json!({
        "message": messages.first(),
        "messages": messages,
        "policy": { "decision": decision, "profile": profile },
        "lint": findings,
    })
}
