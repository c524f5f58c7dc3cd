//! The automation worker: reacts to stored events (PRODUCT.md's shape of the system).
//!
//! Ingest stores an event a person caused as `pending` and acknowledges the webhook. This worker
//! claims pending events (in order per person), asks the pure engine
//! ([`switchboard_automation::engine::respond`]) for the answer, composes each message through
//! the same path as the send API (personalisation, limits, media, policy), and applies answer,
//! effects and new state in one transaction with the event marked done. So an inbound event gets
//! at most one automatic answer, even across crashes and several nodes.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;
use switchboard_automation::engine::{self, Effect, Facts, Inbound, Outcome};
use switchboard_automation::state::AutomationState;
use switchboard_domain::{InboundEvent, Millis, ThreadControl};
use switchboard_storage::{
    Applied, AutomationChanges, AutomationContext, AutomationJob, AutomationSubject, Lane,
    SendContext, Store,
};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::profiles::fetch_profile;
use switchboard_service::ServiceError;
use switchboard_service::compose::{Composer, Draft};
use switchboard_service::registry::{ChannelRegistry, LiveChannel, PlatformClient};

/// Events decided per claim.
const CLAIM_BATCH: i64 = 256;
/// People whose events are decided at the same time.
const CONCURRENT_DECISIONS: usize = 32;
const LEASE: Duration = Duration::from_secs(30);
const IDLE_POLL: Duration = Duration::from_millis(250);
const RECOVERY_INTERVAL: Duration = Duration::from_secs(5);
/// How long a new Messenger person's first answer waits for their profile.
const PROFILE_WAIT: Duration = Duration::from_secs(2);

/// One event's decision, ready to be written.
struct Decision {
    job: AutomationJob,
    subject: AutomationSubject,
    changes: AutomationChanges,
    webhooks: Vec<String>,
    channel: Arc<LiveChannel>,
}

#[derive(Clone)]
pub struct AutomationWorker {
    pub store: Store,
    pub registry: ChannelRegistry,
    pub composer: Composer,
    /// This process's identity (node name and boot id): claims of events are per process.
    pub process_id: Arc<str>,
    /// Notified by ingest after each commit; we notify it after queueing answers (it is also
    /// the dispatcher's signal).
    pub wake: Arc<Notify>,
    pub http: reqwest::Client,
}

impl AutomationWorker {
    pub async fn run(self) {
        let mut last_recovery = tokio::time::Instant::now();
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if last_recovery.elapsed() > RECOVERY_INTERVAL {
                last_recovery = tokio::time::Instant::now();
                if let Err(e) = self.store.recover_automation(Millis::now()).await {
                    tracing::warn!(error = %e, "automation recovery failed");
                }
            }
            let now = Millis::now();
            let lease_until = now.plus_millis(i64::try_from(LEASE.as_millis()).unwrap_or(30_000));
            match self
                .store
                .claim_automation(&self.process_id, now, lease_until, CLAIM_BATCH)
                .await
            {
                Ok(jobs) if !jobs.is_empty() => {
                    if self.handle_all(jobs).await {
                        self.wake.notify_waiters();
                    }
                }
                Ok(_) => {
                    let _ = tokio::time::timeout(IDLE_POLL, woken).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "automation claim failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Decides a batch (one event per person): reads every person's facts in one go, decides
    /// concurrently (profile fetches, composing), then writes every decision in one
    /// transaction.
    async fn handle_all(&self, jobs: Vec<AutomationJob>) -> bool {
        let people: Vec<_> = jobs.iter().map(|j| (j.channel_id, j.contact_id)).collect();
        let mut contexts = match self
            .store
            .automation_contexts(&people, Composer::bulk_history_since(Millis::now()))
            .await
        {
            Ok(contexts) => contexts,
            Err(e) => {
                // Left claimed: the leases expire and recovery hands them back.
                tracing::warn!(error = %e, "reading automation facts failed; will retry");
                return false;
            }
        };
        let limit = Arc::new(Semaphore::new(CONCURRENT_DECISIONS));
        let mut tasks = JoinSet::new();
        for job in jobs {
            let Some(context) = contexts.remove(&job.contact_id) else {
                tracing::warn!(
                    event = job.event_id,
                    "no conversation for the event; will retry"
                );
                continue;
            };
            let (this, limit) = (self.clone(), limit.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire().await.ok()?;
                match this.decide(&job, context).await {
                    Ok(decision) => decision,
                    Err(e) => {
                        // Left claimed: the lease expires and recovery hands it back.
                        tracing::warn!(event = job.event_id, error = %e, "automation failed; will retry");
                        None
                    }
                }
            });
        }
        let mut decisions = Vec::new();
        while let Some(done) = tasks.join_next().await {
            if let Ok(Some(decision)) = done {
                decisions.push(decision);
            }
        }
        if decisions.is_empty() {
            return false;
        }
        let batch: Vec<_> = decisions
            .iter()
            .map(|d| (&d.job, &d.subject, &d.changes))
            .collect();
        let applied = match self.store.apply_automations(&self.process_id, &batch).await {
            Ok(applied) => applied,
            Err(e) => {
                tracing::warn!(error = %e, "writing automation decisions failed; will retry");
                return false;
            }
        };
        let mut queued = false;
        for (decision, applied) in decisions.into_iter().zip(applied) {
            if let Applied::Done { queued: ids } = applied {
                queued |= !ids.is_empty();
                self.after_commit(&decision.channel, &decision.job, decision.webhooks);
            }
        }
        queued
    }

    /// Decides one event; `None` when there is nothing to decide (the event is marked done).
    async fn decide(
        &self,
        job: &AutomationJob,
        context: AutomationContext,
    ) -> anyhow::Result<Option<Decision>> {
        let channel = self.registry.get(job.channel_id).await?;
        let AutomationContext { subject, mut send } = context;
        // A new Messenger person arrives as a bare PSID: ask who they are first (briefly), so
        // the welcome can use their name and language.
        if let PlatformClient::Messenger(client) = &channel.client
            && job.first_event_of_contact
            && send.contact.first_name.is_none()
        {
            let fetch = fetch_profile(
                &self.store,
                client,
                send.contact.id,
                &send.contact.external_id,
            );
            if let Ok(true) = tokio::time::timeout(PROFILE_WAIT, fetch).await {
                send.contact = self.store.get_contact(job.contact_id).await?;
            }
        }
        let contact = &send.contact;
        let state: AutomationState = serde_json::from_str(&subject.state).unwrap_or_default();
        let config = &channel.automations;

        let outcome = match &job.event {
            InboundEvent::ThreadControl { action, .. } => thread_control(*action, &state),
            event => {
                let Some(input) = person_input(event) else {
                    self.store
                        .skip_automation(job.event_id, &self.process_id)
                        .await?;
                    return Ok(None);
                };
                let inbound = Inbound {
                    channel: channel.record.kind,
                    text: input.text.as_deref(),
                    payload: input.payload.as_deref(),
                    referral: input.referral.as_deref(),
                    new_contact: job.first_event_of_contact,
                };
                let facts = Facts {
                    locale: contact.locale.as_deref(),
                    subscribed: contact.subscribed,
                    tags: &subject.tags,
                    attributes: &contact.attributes,
                };
                let now = jiff::Timestamp::from_millisecond(Millis::now().0)
                    .unwrap_or_else(|_| jiff::Timestamp::now());
                engine::respond(config, &inbound, &facts, &state, now)
            }
        };
        if let Some(answer) = &outcome.answer {
            tracing::debug!(event = job.event_id, source = ?answer.source, "automatic answer decided");
        }
        let (changes, webhooks) = self
            .changes(&channel, &subject, &send, &state, &outcome)
            .await?;
        Ok(Some(Decision {
            job: job.clone(),
            subject,
            changes,
            webhooks,
            channel,
        }))
    }

    /// Turns the engine's outcome into rows: messages composed through the one send path, and
    /// effects.
    async fn changes(
        &self,
        channel: &LiveChannel,
        subject: &AutomationSubject,
        send: &SendContext,
        before: &AutomationState,
        outcome: &Outcome,
    ) -> anyhow::Result<(AutomationChanges, Vec<String>)> {
        let now = Millis::now();
        let mut changes = AutomationChanges {
            state: serde_json::to_string(&outcome.state)?,
            ..AutomationChanges::default()
        };
        let mut webhooks = Vec::new();
        for effect in &outcome.effects {
            match effect {
                Effect::Subscribe => changes.subscribed = Some(true),
                Effect::Unsubscribe => changes.subscribed = Some(false),
                Effect::AddTag { tag } => changes.add_tags.push(tag.clone()),
                Effect::RemoveTag { tag } => changes.remove_tags.push(tag.clone()),
                Effect::SetAttribute { key, value } => {
                    changes.set_attributes.insert(key.clone(), value.clone());
                }
                Effect::Assign { to } => changes.assignee = Some(to.clone()),
                Effect::HandOver { .. } => {}
                Effect::CallWebhook { url } => webhooks.push(url.clone()),
            }
        }
        changes.status = match (&outcome.state.handover, &before.handover) {
            (Some(h), _) => {
                changes.waiting_since = Some(Millis(h.since));
                Some("waiting".to_owned())
            }
            (None, _) if subject.status == "waiting" => Some("open".to_owned()),
            _ => None,
        };
        if let Some(answer) = &outcome.answer {
            for message in &answer.messages {
                let draft = Draft {
                    message: message.clone(),
                    author: answer.author,
                    lane: Lane::Reply,
                    promotional: false,
                    tag: None,
                    language: None,
                    // Automation texts are linted when they are saved.
                    lint: false,
                    persona: answer.persona.clone(),
                };
                match self
                    .composer
                    .prepare_in(send, draft, now, &changes.set_attributes)
                    .await
                {
                    Ok(prepared) => changes.messages.extend(prepared.items),
                    Err(ServiceError::Policy { rule, profile, .. }) => {
                        tracing::info!(channel = %channel.record.id, rule, profile, source = ?answer.source, "automatic answer refused by policy");
                    }
                    Err(e) => {
                        tracing::warn!(channel = %channel.record.id, error = ?e, source = ?answer.source, "automatic answer could not be composed");
                    }
                }
            }
        }
        Ok((changes, webhooks))
    }

    /// Answers Telegram's callback query (stops the button's spinner) and calls outgoing
    /// webhooks. Both are best effort: the decision is already durable.
    fn after_commit(&self, channel: &Arc<LiveChannel>, job: &AutomationJob, webhooks: Vec<String>) {
        if let (
            InboundEvent::Postback {
                callback_id: Some(id),
                ..
            },
            PlatformClient::Telegram(client),
        ) = (&job.event, &channel.client)
        {
            let (client, id) = (client.clone(), id.clone());
            tokio::spawn(async move {
                if let Err(e) = client.answer_callback_query(&id, None).await {
                    tracing::debug!(error = %e, "answerCallbackQuery failed");
                }
            });
        }
        if webhooks.is_empty() {
            return;
        }
        let body = json!({
            "channel_id": job.channel_id,
            "contact_id": job.contact_id,
            "event_id": job.event_id,
            "occurred_at": job.occurred_at,
            "event": job.event,
        })
        .to_string();
        let secret = channel.automation_secret.clone();
        for url in webhooks {
            let (http, body, secret) = (self.http.clone(), body.clone(), secret.clone());
            tokio::spawn(async move { call_webhook(&http, &url, &body, secret.as_deref()).await });
        }
    }
}

/// POSTs with `X-Switchboard-Signature: sha256=<hex HMAC of the body>`, three tries.
async fn call_webhook(http: &reqwest::Client, url: &str, body: &str, secret: Option<&str>) {
    let signature = secret.map(|s| {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(s.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(body.as_bytes());
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    });
    for attempt in 0..3u32 {
        let mut request = http
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(sig) = &signature {
            request = request.header("x-switchboard-signature", sig);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::info!(
                url,
                status = r.status().as_u16(),
                attempt,
                "automation webhook refused"
            ),
            Err(e) => tracing::info!(url, error = %e, attempt, "automation webhook failed"),
        }
        tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
    }
}

/// Another app took the thread (Messenger handover protocol): stand back as if handed over to a
/// human. Control passed or released back to us: automations resume.
fn thread_control(action: ThreadControl, state: &AutomationState) -> Outcome {
    let state = match action {
        ThreadControl::Take => AutomationState {
            handover: Some(switchboard_automation::state::Handover {
                since: Millis::now().0,
                reason: switchboard_automation::state::HandoverReason::Agent,
            }),
            flow: None,
            ..state.clone()
        },
        ThreadControl::Pass | ThreadControl::Release => engine::on_resolved(state),
        ThreadControl::Request => state.clone(),
    };
    Outcome {
        answer: None,
        effects: Vec::new(),
        state,
    }
}

struct PersonInput {
    text: Option<String>,
    payload: Option<String>,
    referral: Option<String>,
}

/// What a person did, in the engine's terms; `None` for events automations ignore.
fn person_input(event: &InboundEvent) -> Option<PersonInput> {
    Some(match event {
        InboundEvent::Message {
            content, referral, ..
        } => PersonInput {
            // A Messenger quick-reply tap carries its title as text and its payload.
            text: content.text.clone(),
            payload: content.quick_reply_payload.clone(),
            referral: referral.as_ref().and_then(|r| r.r#ref.clone()),
        },
        InboundEvent::Postback {
            payload, referral, ..
        } => PersonInput {
            text: None,
            payload: payload.clone(),
            referral: referral.as_ref().and_then(|r| r.r#ref.clone()),
        },
        InboundEvent::Referral(r) => PersonInput {
            text: None,
            payload: None,
            referral: r.r#ref.clone(),
        },
        InboundEvent::Optin { r#ref, payload, .. } => PersonInput {
            text: None,
            payload: payload.clone(),
            referral: r#ref.clone(),
        },
        _ => return None,
    })
}
