//! The outbox dispatcher: claims due rows, sends them through the channel's client, records the
//! outcome. Conversational replies and bulk work have separate workers so a broadcast never
//! delays an answer.
//!
//! Within one claimed batch, messages to the same person are sent one after another in the order
//! they were queued; different people are sent to concurrently.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_channels::messenger::{METADATA_PREFIX, MessagingType};
use switchboard_domain::{
    ExternalUserId, Millis, Psid, SendError, SendErrorClass, SendReceipt, TelegramChatId,
};
use switchboard_storage::{DispatchResult, Lane, OutboxJob, RetryPolicy, Store, StoreError};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

use crate::pacing::{Pace, Pacer};
use crate::registry::{ChannelRegistry, PlatformClient};

/// How many rows one worker claims at a time.
const CLAIM_BATCH: i64 = 256;
/// Sends in flight per worker.
const CONCURRENT_SENDS: usize = 128;
/// Workers for campaigns and feeds (replies have their own, see `ServerConfig::reply_workers`).
const BULK_WORKERS: usize = 2;
/// How often an idle worker looks for due retries and other nodes' work.
const IDLE_POLL: Duration = Duration::from_millis(250);
const RECOVERY_INTERVAL: Duration = Duration::from_secs(5);
/// A send whose slot opens within this is waited for in place; later ones go back to the queue.
const INLINE_WAIT: Duration = Duration::from_millis(100);
/// Pause after a rate-limit answer that did not say how long to wait.
const RATE_LIMIT_BACKOFF: Duration = Duration::from_secs(5);
/// Pause after the platform rejected the channel's credentials.
const AUTH_BROKEN_PAUSE: Duration = Duration::from_secs(60);

#[derive(Clone)]
pub struct Dispatcher {
    pub store: Store,
    pub registry: ChannelRegistry,
    pub node_id: Arc<str>,
    pub lease: Duration,
    pub retry: RetryPolicy,
    pub wake: Arc<Notify>,
    pub pacer: Arc<Pacer>,
}

impl Dispatcher {
    /// Recovers this node's rows from a previous life, then runs workers and periodic lease
    /// recovery until the runtime stops.
    pub async fn start(self, reply_workers: usize) -> JoinSet<()> {
        match self
            .store
            .recover_outbox(Some(&self.node_id), Millis::now())
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(rows = n, node = %self.node_id, "recovered outbox rows left in flight")
            }
            Err(e) => tracing::warn!(error = %e, "outbox recovery failed; will retry"),
        }
        let mut tasks = JoinSet::new();
        for _ in 0..reply_workers.max(1) {
            tasks.spawn(self.clone().work(Lane::Reply));
        }
        for _ in 0..BULK_WORKERS {
            tasks.spawn(self.clone().work(Lane::Bulk));
        }
        tasks.spawn(self.recover_periodically());
        tasks
    }

    async fn recover_periodically(self) {
        loop {
            tokio::time::sleep(RECOVERY_INTERVAL).await;
            if let Err(e) = self.store.recover_outbox(None, Millis::now()).await {
                tracing::warn!(error = %e, "outbox recovery failed");
            }
        }
    }

    async fn work(self, lane: Lane) {
        loop {
            // Register interest before looking, so a commit between the claim and the wait is
            // not missed.
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            // Channels that are paused or booked up stay queued instead of being claimed and
            // handed straight back.
            let busy = self.pacer.busy_channels(Instant::now(), INLINE_WAIT);
            let now = Millis::now();
            let lease_until =
                now.plus_millis(i64::try_from(self.lease.as_millis()).unwrap_or(30_000));
            match self
                .store
                .claim_outbox(&self.node_id, lane, now, lease_until, CLAIM_BATCH, &busy)
                .await
            {
                Ok(jobs) if !jobs.is_empty() => {
                    let results = self.send_all(jobs).await;
                    self.record(results).await;
                }
                Ok(_) => {
                    let _ = tokio::time::timeout(IDLE_POLL, woken).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "outbox claim failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    /// Results are recorded in one transaction; if the database is briefly away we try a few
    /// times, then leave the rows to lease recovery.
    ///
    /// A batch refused for another reason (one row breaking a constraint) is recorded row by row,
    /// so one bad row cannot leave the rest `sending` until their leases expire — after which
    /// replies would be sent a second time.
    async fn record(&self, results: Vec<DispatchResult>) {
        for attempt in 0..5u32 {
            match self.store.record_dispatch(&results).await {
                Ok(()) => return,
                Err(StoreError::Unavailable(e)) => {
                    tracing::warn!(error = %e, attempt, "recording send results failed");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "a batch of send results was refused; recording them one by one");
                    for result in &results {
                        if let Err(e) = self
                            .store
                            .record_dispatch(std::slice::from_ref(result))
                            .await
                        {
                            tracing::error!(error = %e, ?result, "send result could not be recorded");
                        }
                    }
                    return;
                }
            }
        }
    }

    async fn send_all(&self, jobs: Vec<OutboxJob>) -> Vec<DispatchResult> {
        let mut per_person: BTreeMap<(i64, i64), Vec<OutboxJob>> = BTreeMap::new();
        for job in jobs {
            per_person
                .entry((job.channel_id.0, job.contact_id))
                .or_default()
                .push(job);
        }
        let limit = Arc::new(Semaphore::new(CONCURRENT_SENDS));
        let mut sends = JoinSet::new();
        for (_, queue) in per_person {
            let this = self.clone();
            let limit = limit.clone();
            sends.spawn(async move {
                let mut results = Vec::with_capacity(queue.len());
                for job in queue {
                    let Ok(_permit) = limit.acquire().await else {
                        break;
                    };
                    results.push(this.send_one(job).await);
                }
                results
            });
        }
        let mut all = Vec::new();
        while let Some(done) = sends.join_next().await {
            if let Ok(results) = done {
                all.extend(results);
            }
        }
        all
    }

    async fn send_one(&self, job: OutboxJob) -> DispatchResult {
        let channel = match self.registry.get(job.channel_id).await {
            Ok(channel) => channel,
            Err(e) => {
                let err = SendError::transport(format!("channel unavailable: {e}"), true);
                return self.on_failure(job, err, Millis::now());
            }
        };
        let limits = channel.record.settings.rate_limits();
        loop {
            let now = Instant::now();
            match self
                .pacer
                .acquire(job.channel_id, limits, job.recipient.as_str(), now)
            {
                Pace::Go => break,
                Pace::NotBefore(t) if t - now <= INLINE_WAIT => {
                    tokio::time::sleep_until(t.into()).await
                }
                Pace::NotBefore(t) => {
                    return DispatchResult::Deferred {
                        message_id: job.message_id,
                        run_at: millis_at(t),
                    };
                }
            }
        }
        let outcome = deliver(&channel.client, &job).await;
        let now = Millis::now();
        match outcome {
            Ok(receipt) => DispatchResult::Sent {
                message_id: job.message_id,
                platform_message_id: receipt.platform_message_id,
                at: now,
            },
            Err(err) => self.on_failure(job, err, now),
        }
    }

    fn on_failure(&self, job: OutboxJob, err: SendError, now: Millis) -> DispatchResult {
        match err.class {
            // The platform asked this channel to slow down: pause it (only it) and put the
            // message back without spending an attempt.
            SendErrorClass::RateLimited => {
                let wait = err
                    .retry_after_secs
                    .map_or(RATE_LIMIT_BACKOFF, Duration::from_secs);
                let until = Instant::now() + wait;
                self.pacer.pause(job.channel_id, until);
                tracing::warn!(channel = %job.channel_id, wait_ms = wait.as_millis() as u64, code = ?err.code, "platform rate limit: channel paused");
                return DispatchResult::Deferred {
                    message_id: job.message_id,
                    run_at: millis_at(until),
                };
            }
            // Broken credentials fail every message alike: hold the channel's messages instead of
            // failing them one after another, and say so loudly.
            SendErrorClass::AuthBroken => {
                let until = Instant::now() + AUTH_BROKEN_PAUSE;
                self.pacer.pause(job.channel_id, until);
                tracing::error!(channel = %job.channel_id, code = ?err.code, "channel credentials rejected by the platform: sending paused; fix the token");
                return DispatchResult::Deferred {
                    message_id: job.message_id,
                    run_at: millis_at(until),
                };
            }
            _ => {}
        }
        // A bulk message whose fate is unknown is never re-sent: a duplicate broadcast is worse
        // than a missing one. A reply is retried: a missing answer is worse than a duplicate.
        let ambiguous = err.class == SendErrorClass::Transient && !err.not_delivered_to_platform;
        let retry = err.class.is_retryable()
            && job.attempts < self.retry.max_attempts
            && !(ambiguous && job.lane == Lane::Bulk);
        if retry {
            let delay = self.retry.delay_ms(job.attempts, err.retry_after_secs);
            tracing::debug!(message = %job.message_id, class = err.class.as_str(), delay, "send will be retried");
            return DispatchResult::Retry {
                message_id: job.message_id,
                run_at: now.plus_millis(delay),
                detail: err.to_string(),
            };
        }
        tracing::info!(message = %job.message_id, class = err.class.as_str(), code = ?err.code, subcode = ?err.subcode, "send failed");
        DispatchResult::Failed {
            message_id: job.message_id,
            class: err.class,
            contact_unreachable: (err.class == SendErrorClass::RecipientUnavailable)
                .then_some(job.contact_id),
            detail: err.to_string(),
        }
    }
}

/// Hands one message to its platform.
async fn deliver(client: &PlatformClient, job: &OutboxJob) -> Result<SendReceipt, SendError> {
    let Some(text) = job.content.text.as_deref() else {
        return Err(permanent(
            SendErrorClass::BadRequest,
            "only text messages can be sent yet",
        ));
    };
    match client {
        PlatformClient::Messenger(m) => {
            let psid = Psid::parse(job.recipient.as_str())
                .map_err(|e| permanent(SendErrorClass::InvalidRecipient, &e.to_string()))?;
            let messaging_type = messaging_type(job.messaging_type.as_deref());
            let metadata = format!("{METADATA_PREFIX}{}", job.message_id);
            m.send_text(&psid, text, &messaging_type, Some(&metadata))
                .await
        }
        PlatformClient::Telegram(t) => {
            let chat = chat_id(&job.recipient)?;
            t.send_text(chat, text).await
        }
    }
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

fn permanent(class: SendErrorClass, detail: &str) -> SendError {
    SendError {
        class,
        code: None,
        subcode: None,
        retry_after_secs: None,
        detail: detail.to_owned(),
        not_delivered_to_platform: true,
    }
}

/// Wall-clock milliseconds for a monotonic instant (for `run_at` columns).
fn millis_at(t: Instant) -> Millis {
    let ahead = t.saturating_duration_since(Instant::now());
    Millis::now().plus_millis(i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX))
}
