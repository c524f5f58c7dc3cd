//! Saying something to a customer as a person: the role and scope checks, then the compose path
//! (template → limits → media → lint → policy), then the outbox — with an optional idempotency
//! key that makes a retried request queue nothing twice.

use serde_json::{Value, json};
use switchboard_domain::{AuthorKind, ConversationId, Millis};
use switchboard_storage::{IdempotencyKey, Idempotent, Lane, MessageRow, StoredResponse};

use crate::Service;
use crate::actor::Actor;
use crate::compose::Draft;
use crate::error::{ServiceError, ServiceResult};

/// What a person asks to send (the API's and the composer's request).
#[derive(Debug, Clone)]
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
        let draft = Draft {
            message: request.message,
            author: AuthorKind::Agent,
            lane: Lane::Reply,
            promotional: request.promotional,
            tag: request.tag,
            language: request.language,
            lint: true,
            persona: None,
        };
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
