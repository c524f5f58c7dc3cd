//! The outbox dispatcher: claims due rows, sends them through the channel's client, records the
//! outcome. Conversational replies and bulk work have separate workers so a broadcast never
//! delays an answer.
//!
//! Within one claimed batch, messages to the same person are sent one after another in the order
//! they were queued; different people are sent to concurrently. A message that goes back to the
//! queue (a retry, a deferral) takes the rest of its person's messages in the batch back with it,
//! unsent: the claim query then holds them behind it (see `switchboard_storage::outbox`).
//!
//! Every write about a claimed row carries the claim's token, so a worker whose claim was lost
//! changes nothing; while a batch is being sent, its lease is renewed ([`LEASE_RENEWALS`] times
//! per lease), so a slow platform or a long wait never lets a live claim expire.
//!
//! Life of one send: claim (the row is `sending`, leased) → a pacing slot → the "call started"
//! mark, committed → the platform call → its result, committed. The mark is what makes crash
//! recovery exact (see `Store::recover_outbox`): a claimed row without it was provably never
//! handed to the platform and goes back to the queue; a row with it may have been sent and
//! becomes `unknown`, never re-sent. Marks are group-committed (one statement for every send
//! whose slot opened at the same moment), results are recorded together when the batch is done
//! (or earlier, see [`RECORD_LINGER`]); never one statement per message. A send holds its permit
//! from its mark until its result is committed, so a crash can leave at most
//! [`CONCURRENT_SENDS`] `unknown` rows per worker.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_domain::{
    ChannelId, ChannelKind, MediaKind, MessageBody, MessageId, Millis, RateLimits, SendError,
    SendErrorClass,
};
use switchboard_storage::{
    ChannelAlert, ClaimToken, DispatchResult, Lane, OutboxJob, Restart, RetryPolicy, Store,
    StoreError,
};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

use crate::delivery::deliver;
use crate::pacing::{Pace, Pacer};
use crate::registry::{ChannelRegistry, LiveChannel};

/// How many rows one worker claims at a time.
const CLAIM_BATCH: i64 = 256;
/// Sends in flight per worker. A send is in flight from its "call started" mark until its result
/// is committed: only those rows can become `unknown` if the process dies.
pub const CONCURRENT_SENDS: usize = 128;
/// Workers for campaigns and feeds (replies have their own, see `ServerConfig::reply_workers`).
pub const BULK_WORKERS: usize = 2;
/// The most bulk messages one node's crash can leave `unknown`: every bulk send that may have
/// reached the platform without its result being committed.
pub const BULK_IN_FLIGHT_WINDOW: usize = CONCURRENT_SENDS * BULK_WORKERS;
/// When the "call started" mark could not be written (database away), the message goes back to
/// the queue for this long, unsent and without spending an attempt.
const MARK_FAILED_DELAY_MS: i64 = 1_000;
/// How often an idle worker looks for due retries and other nodes' work.
const IDLE_POLL: Duration = Duration::from_millis(250);
const RECOVERY_INTERVAL: Duration = Duration::from_secs(2);
/// How often a process says it is alive, and how long without a heartbeat counts as gone when
/// the channels' rates are shared out among the live nodes.
const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(500);
const NODE_LIVENESS_MS: i64 = 7_000;
/// Long-gone processes are cleared from the heartbeat table about once a minute.
const FORGET_EVERY_BEATS: u64 = 120;
/// How long a process of this node's name must have been silent to be taken for a previous
/// life whose in-flight rows may be recovered (four missed heartbeats). Only processes sharing
/// a name are judged by it, so a heavily loaded *other* node is never taken for dead; leases
/// cover those.
const PREVIOUS_LIFE_SILENCE_MS: i64 = 2_000;
/// A send whose slot opens within this is waited for in place; later ones go back to the queue.
const INLINE_WAIT: Duration = Duration::from_millis(100);
/// Pause after a rate-limit answer that did not say how long to wait.
const RATE_LIMIT_BACKOFF: Duration = Duration::from_secs(5);
/// Meta's limit for audio and video messages per page (protocols.md A13).
const MESSENGER_AUDIO_VIDEO_PER_SECOND: f64 = 10.0;
/// Pause after the platform rejected the channel's credentials.
const AUTH_BROKEN_PAUSE: Duration = Duration::from_secs(60);
/// How many times per lease period a batch in progress renews its lease.
const LEASE_RENEWALS: u32 = 3;

#[derive(Clone)]
pub struct Dispatcher {
    pub store: Store,
    pub registry: ChannelRegistry,
    /// The configured node name (`SWITCHBOARD_NODE_ID`).
    pub node_id: Arc<str>,
    /// This process: the node name and a boot id (see [`process_identity`]). Claims, heartbeats
    /// and restart recovery use it, so two processes never take each other's rows for their own.
    pub process_id: Arc<str>,
    pub lease: Duration,
    pub retry: RetryPolicy,
    pub wake: Arc<Notify>,
    pub pacer: Arc<Pacer>,
    /// This server's public URL, for media a platform only fetches by URL.
    pub public_url: Option<Arc<str>>,
}

impl Dispatcher {
    /// Recovers this node's rows from a previous life, then runs workers and periodic lease
    /// recovery until the runtime stops.
    pub async fn start(self, reply_workers: usize) -> JoinSet<()> {
        // Say we are alive first: a process of the same name starting after us must not take
        // our rows for a previous life's, and nodes already sending learn to share with us.
        let peers = match self.beat().await {
            Ok(live) => live > 1,
            Err(e) => {
                tracing::warn!(error = %e, "first heartbeat failed");
                false
            }
        };
        let previous_life = self.wait_for_previous_life_to_fall_silent();
        if peers {
            // They shrink their share at their next heartbeat: send only once they have.
            tokio::join!(previous_life, tokio::time::sleep(2 * HEARTBEAT_INTERVAL));
        } else {
            previous_life.await;
        }
        self.recover_previous_lives().await;
        let mut tasks = JoinSet::new();
        for _ in 0..reply_workers.max(1) {
            tasks.spawn(self.clone().work(Lane::Reply));
        }
        for _ in 0..BULK_WORKERS {
            tasks.spawn(self.clone().work(Lane::Bulk));
        }
        tasks.spawn(self.clone().heartbeat());
        tasks.spawn(self.recover_periodically());
        tasks
    }

    /// Tells the database this node is alive, and learns how many share the channels' rates.
    async fn heartbeat(self) {
        for beat in 1u64.. {
            tokio::time::sleep(HEARTBEAT_INTERVAL).await;
            if let Err(e) = self.beat().await {
                tracing::warn!(error = %e, "heartbeat failed");
            }
            if beat % FORGET_EVERY_BEATS == 0
                && let Err(e) = self.store.forget_silent_processes(Millis::now()).await
            {
                tracing::warn!(error = %e, "forgetting silent processes failed");
            }
        }
    }

    /// One heartbeat; answers how many processes are alive, this one included.
    async fn beat(&self) -> Result<u32, StoreError> {
        let live = self
            .store
            .heartbeat(&self.process_id, Millis::now(), NODE_LIVENESS_MS)
            .await?;
        self.pacer.set_live_nodes(live);
        Ok(live)
    }

    /// Expired leases, and the rows of a previous life of this node: one that was killed just
    /// before this process started still looked alive then, and is taken for gone once its
    /// heartbeat is older than the liveness window — seconds, not a whole lease.
    async fn recover_periodically(self) {
        loop {
            tokio::time::sleep(RECOVERY_INTERVAL).await;
            if let Err(e) = self.store.recover_expired_leases(Millis::now()).await {
                tracing::warn!(error = %e, "outbox recovery failed");
            }
            self.recover_previous_lives().await;
        }
    }

    /// A previous life killed a moment ago still looks alive: wait (at most
    /// [`PREVIOUS_LIFE_SILENCE_MS`]) until its last heartbeat is old enough to prove it gone, so
    /// its rows are recovered before this process serves. A live process sharing our name by
    /// mistake keeps beating, and keeps its rows.
    async fn wait_for_previous_life_to_fall_silent(&self) {
        let last_seen = match self
            .store
            .previous_life_last_seen(&self.node_id, &self.process_id)
            .await
        {
            Ok(Some(seen)) => seen,
            Ok(None) => return,
            Err(e) => return tracing::warn!(error = %e, "looking for a previous life failed"),
        };
        let silent_at = last_seen.plus_millis(PREVIOUS_LIFE_SILENCE_MS + 1);
        let wait = silent_at.0.saturating_sub(Millis::now().0);
        if wait > 0 {
            let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0))
                .min(Duration::from_millis(PREVIOUS_LIFE_SILENCE_MS as u64 + 1));
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "waiting for the previous life of this node to fall silent"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn recover_previous_lives(&self) {
        let now = Millis::now();
        let restart = Restart {
            node: &self.node_id,
            process: &self.process_id,
            alive_after: now.plus_millis(-PREVIOUS_LIFE_SILENCE_MS),
        };
        match self.store.recover_previous_lives(restart, now).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::info!(rows = n, process = %self.process_id, "recovered outbox rows a previous life left in flight")
            }
            Err(e) => tracing::warn!(error = %e, "outbox recovery failed; will retry"),
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
            match self
                .store
                .claim_outbox(
                    &self.process_id,
                    lane,
                    now,
                    self.lease_from(now),
                    CLAIM_BATCH,
                    &busy,
                )
                .await
            {
                Ok(jobs) if !jobs.is_empty() => self.send_all(jobs).await,
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

    fn lease_from(&self, now: Millis) -> Millis {
        now.plus_millis(i64::try_from(self.lease.as_millis()).unwrap_or(30_000))
    }

    /// Renews the lease of a batch's rows until the batch is done (the task is aborted then).
    /// A renewal that fails is tried again at the next tick; if the database stays away past the
    /// lease, recovery takes the rows and the fence stops this worker from touching them.
    async fn renew_lease(self, claim: ClaimToken) {
        let every = (self.lease / LEASE_RENEWALS).max(Duration::from_millis(50));
        loop {
            tokio::time::sleep(every).await;
            match self
                .store
                .renew_outbox_lease(&claim, self.lease_from(Millis::now()))
                .await
            {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "renewing an outbox lease failed"),
            }
        }
    }

    /// Results are recorded in one transaction; if the database is briefly away we try a few
    /// times, then leave the rows to lease recovery (which makes rows whose call had started
    /// `unknown`, and re-queues the others).
    ///
    /// A batch refused for another reason (one row breaking a constraint) is recorded row by row,
    /// so one bad row cannot leave the rest `sending` until their leases expire.
    async fn record(&self, claim: &ClaimToken, results: Vec<DispatchResult>) {
        for attempt in 0..5u32 {
            match self.store.record_dispatch(claim, &results).await {
                Ok(recorded) => return report_stale(recorded.stale),
                Err(StoreError::Unavailable(e)) => {
                    tracing::warn!(error = %e, attempt, "recording send results failed");
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "a batch of send results was refused; recording them one by one");
                    for result in &results {
                        match self
                            .store
                            .record_dispatch(claim, std::slice::from_ref(result))
                            .await
                        {
                            Ok(recorded) => report_stale(recorded.stale),
                            Err(e) => {
                                tracing::error!(error = %e, ?result, "send result could not be recorded")
                            }
                        }
                    }
                    return;
                }
            }
        }
    }

    /// Sends a claimed batch and records every result before returning.
    async fn send_all(&self, jobs: Vec<OutboxJob>) {
        let Some(claim) = jobs.first().map(|j| j.claim.clone()) else {
            return;
        };
        let renewal = tokio::spawn(self.clone().renew_lease(claim.clone()));
        let mut per_person: BTreeMap<(i64, i64), Vec<OutboxJob>> = BTreeMap::new();
        for job in jobs {
            per_person
                .entry((job.channel_id.0, job.contact_id))
                .or_default()
                .push(job);
        }
        let limit = Arc::new(Semaphore::new(CONCURRENT_SENDS));
        let marks = CallMarks::start(self.store.clone(), claim.clone());
        let (results, recorder) = Results::start(self.clone(), claim, limit.clone());
        let mut sends = JoinSet::new();
        for (_, queue) in per_person {
            let this = self.clone();
            let limit = limit.clone();
            let (marks, results) = (marks.clone(), results.clone());
            sends.spawn(async move {
                // Set when one of this person's messages went back to the queue: the ones after
                // it go back too, unsent, so they cannot overtake it.
                let mut held_until = None;
                for job in queue {
                    if let Some(run_at) = held_until {
                        let message_id = job.message_id;
                        results.push(DispatchResult::Deferred { message_id, run_at }, None);
                        continue;
                    }
                    let Ok(permit) = limit.clone().acquire_owned().await else {
                        break;
                    };
                    // `None`: the claim is lost, and with it the rest of the batch.
                    let Some(Sent { result, called }) = this.send_one(job, &marks).await else {
                        break;
                    };
                    held_until = result.requeued_until();
                    // The permit stays with the result until it is committed: a row whose call
                    // started counts against CONCURRENT_SENDS until then.
                    results.push(result, called.then_some(permit));
                }
            });
        }
        while sends.join_next().await.is_some() {}
        drop((results, marks));
        let _ = recorder.await;
        renewal.abort();
    }

    /// Sends one claimed message and says what to record; `None` when the row is no longer ours
    /// to send or record (its lease ran out before the call).
    async fn send_one(&self, job: OutboxJob, marks: &CallMarks) -> Option<Sent> {
        let not_called = |result| {
            Some(Sent {
                result,
                called: false,
            })
        };
        let channel = match self.registry.get(job.channel_id).await {
            Ok(channel) => channel,
            Err(e) => {
                let err = SendError::transport(format!("channel unavailable: {e}"), true);
                return not_called(self.on_failure(job, err, Millis::now()));
            }
        };
        let limits = channel.record.settings.rate_limits();
        // Messenger allows audio and video only at 10/s per page (A13), within the page's rate:
        // they take a slot of their own bucket first.
        let av_bucket = audio_video_bucket(&channel, &job);
        let buckets = av_bucket
            .iter()
            .map(|(bucket, av_limits)| (*bucket, *av_limits, ""))
            .chain([(job.channel_id, limits, job.recipient.as_str())]);
        for (bucket, limits, recipient) in buckets {
            if let Err(run_at) = self.slot(bucket, limits, recipient).await {
                return not_called(DispatchResult::Deferred {
                    message_id: job.message_id,
                    run_at,
                });
            }
        }
        // The call may only start once the database knows it may have happened.
        match marks.mark(job.message_id).await {
            Marked::Started => {}
            Marked::NotOurs => {
                tracing::warn!(message = %job.message_id, "claim lost before the platform call (stale claim); not sent, left to recovery");
                return None;
            }
            Marked::Failed => {
                return not_called(DispatchResult::Deferred {
                    message_id: job.message_id,
                    run_at: Millis::now().plus_millis(MARK_FAILED_DELAY_MS),
                });
            }
        }
        // Receipts carry the platform's time of the message, which is never before this.
        let called_at = Millis::now();
        let outcome = deliver(&self.store, self.public_url.as_deref(), &channel, &job).await;
        let result = match outcome {
            Ok(delivered) => {
                if channel.record.alert.is_some() {
                    self.clear_alert(job.channel_id);
                }
                DispatchResult::Sent {
                    message_id: job.message_id,
                    platform_message_id: delivered.platform_message_id,
                    at: called_at,
                }
            }
            Err(err) => self.on_failure(job, err, Millis::now()),
        };
        Some(Sent {
            result,
            called: true,
        })
    }

    /// Waits for a pacing slot in `bucket` when it opens within [`INLINE_WAIT`]; otherwise
    /// says when to try again (the message goes back to the queue until then).
    async fn slot(
        &self,
        bucket: ChannelId,
        limits: RateLimits,
        recipient: &str,
    ) -> Result<(), Millis> {
        loop {
            let now = Instant::now();
            match self.pacer.acquire(bucket, limits, recipient, now) {
                Pace::Go => return Ok(()),
                Pace::NotBefore(t) if t - now <= INLINE_WAIT => {
                    tokio::time::sleep_until(t.into()).await
                }
                Pace::NotBefore(t) => return Err(millis_at(t)),
            }
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
                self.raise_alert(job.channel_id, &err, now);
                return DispatchResult::Deferred {
                    message_id: job.message_id,
                    run_at: millis_at(until),
                };
            }
            _ => {}
        }
        // The request went out and its answer was lost: the message may have arrived. It is
        // never re-sent, on either lane — a message is retried only when the platform provably
        // did not take it.
        // A classified platform error (Graph `code`, Telegram `error_code`) is a definite "not
        // sent"; only a lost answer (transport failure after the request left, an unreadable 5xx)
        // is ambiguous.
        let ambiguous = err.class == SendErrorClass::Transient
            && !err.not_delivered_to_platform
            && err.code.is_none();
        if ambiguous {
            tracing::info!(message = %job.message_id, lane = job.lane.as_str(), "send outcome unknown; not re-sent");
            return DispatchResult::Unknown {
                message_id: job.message_id,
                detail: err.to_string(),
            };
        }
        let retry = err.class.is_retryable() && job.attempts < self.retry.max_attempts;
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

impl Dispatcher {
    /// A visible channel alert: the platform rejected the credentials (Graph 190, Telegram 401).
    fn raise_alert(&self, channel: ChannelId, err: &SendError, now: Millis) {
        let alert = ChannelAlert {
            kind: "credentials_rejected".into(),
            message: format!(
                "the platform rejected this channel's credentials; sending is paused until they are fixed ({})",
                err.code
                    .map_or_else(|| "no code".to_owned(), |c| format!("code {c}"))
            ),
            code: err.code,
            since: now,
        };
        let (store, registry) = (self.store.clone(), self.registry.clone());
        tokio::spawn(async move {
            let raised = store.set_channel_alert(channel, Some(&alert)).await;
            if let Err(e) = raised {
                tracing::warn!(error = %e, "could not raise the channel alert");
            }
            let _ = registry.reload(channel).await;
        });
    }

    /// Sending works again: the alert goes.
    fn clear_alert(&self, channel: ChannelId) {
        let (store, registry) = (self.store.clone(), self.registry.clone());
        tokio::spawn(async move {
            if store.set_channel_alert(channel, None).await.is_ok() {
                let _ = registry.reload(channel).await;
            }
        });
    }
}

/// What became of a "call started" mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marked {
    /// Committed: the call may be made.
    Started,
    /// The row is no longer this node's claim (lease expired): do not send, do not record.
    NotOurs,
    /// The database did not take the mark: do not send.
    Failed,
}

/// Group commit of "call started" marks for one claimed batch: every send whose slot opened while
/// the previous mark was being written is marked by the next single statement.
#[derive(Clone)]
struct CallMarks(mpsc::UnboundedSender<(MessageId, oneshot::Sender<Marked>)>);

impl CallMarks {
    /// The writer task ends when the last handle is dropped.
    fn start(store: Store, claim: ClaimToken) -> CallMarks {
        let (tx, mut rx) = mpsc::unbounded_channel::<(MessageId, oneshot::Sender<Marked>)>();
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let group = gather(&mut rx, first).await;
                let ids: Vec<MessageId> = group.iter().map(|(id, _)| *id).collect();
                match store.mark_calls_started(&claim, &ids, Millis::now()).await {
                    Ok(marked) => {
                        let marked: HashSet<MessageId> = marked.into_iter().collect();
                        for (id, reply) in group {
                            let answer = if marked.contains(&id) {
                                Marked::Started
                            } else {
                                Marked::NotOurs
                            };
                            let _ = reply.send(answer);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, rows = ids.len(), "marking sends as started failed; they are not sent");
                        for (_, reply) in group {
                            let _ = reply.send(Marked::Failed);
                        }
                    }
                }
            }
        });
        CallMarks(tx)
    }

    async fn mark(&self, id: MessageId) -> Marked {
        let (tx, rx) = oneshot::channel();
        if self.0.send((id, tx)).is_err() {
            return Marked::Failed;
        }
        rx.await.unwrap_or(Marked::Failed)
    }
}

/// What to record for one claimed message, and whether its platform call was made.
struct Sent {
    result: DispatchResult,
    called: bool,
}

/// Results of one claimed batch, recorded in as few statements as possible: all at once when the
/// batch is done (usually one statement, as before the "call started" marks), earlier only when
/// results have waited [`RECORD_LINGER`] or when permits are short and many are held by results
/// waiting to be recorded.
#[derive(Clone)]
struct Results(mpsc::UnboundedSender<(DispatchResult, Option<OwnedSemaphorePermit>)>);

/// The longest a result waits for the rest of its batch before it is recorded on its own (a slow
/// call must not keep finished sends looking in flight, and so `unknown` after a crash).
const RECORD_LINGER: Duration = Duration::from_millis(50);
/// When every permit is taken, results are recorded as soon as this many hold one.
const RECORD_WHEN_SHORT: usize = CONCURRENT_SENDS / 4;

impl Results {
    /// The recorder task ends, having recorded everything, when the last handle is dropped.
    fn start(
        dispatcher: Dispatcher,
        claim: ClaimToken,
        limit: Arc<Semaphore>,
    ) -> (Results, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut pending: Vec<(DispatchResult, Option<OwnedSemaphorePermit>)> = Vec::new();
            let mut deadline = None;
            loop {
                let next = match deadline {
                    Some(at) => tokio::select! {
                        next = rx.recv() => Some(next),
                        () = tokio::time::sleep_until(at) => None,
                    },
                    None => Some(rx.recv().await),
                };
                let flush = match next {
                    Some(Some(item)) => {
                        deadline.get_or_insert_with(|| tokio::time::Instant::now() + RECORD_LINGER);
                        pending.push(item);
                        limit.available_permits() == 0 && pending.len() >= RECORD_WHEN_SHORT
                    }
                    Some(None) => {
                        if !pending.is_empty() {
                            record_pending(&dispatcher, &claim, &mut pending).await;
                        }
                        break;
                    }
                    None => true,
                };
                if flush {
                    record_pending(&dispatcher, &claim, &mut pending).await;
                    deadline = None;
                }
            }
        });
        (Results(tx), task)
    }

    fn push(&self, result: DispatchResult, permit: Option<OwnedSemaphorePermit>) {
        // The recorder outlives every handle, so this cannot fail; if it did, lease recovery
        // would deal with the row.
        let _ = self.0.send((result, permit));
    }
}

/// Records the results, then releases their permits.
async fn record_pending(
    dispatcher: &Dispatcher,
    claim: &ClaimToken,
    pending: &mut Vec<(DispatchResult, Option<OwnedSemaphorePermit>)>,
) {
    let (results, permits): (Vec<_>, Vec<_>) = pending.drain(..).unzip();
    dispatcher.record(claim, results).await;
    drop(permits);
}

/// `first` and everything else already waiting, after letting the sends that are ready at this
/// moment (their slots opened together) add theirs.
async fn gather<T>(rx: &mut mpsc::UnboundedReceiver<T>, first: T) -> Vec<T> {
    let mut group = vec![first];
    tokio::task::yield_now().await;
    while let Ok(next) = rx.try_recv() {
        group.push(next);
    }
    group
}

/// The separate bucket of a Messenger audio or video message: keyed by the page's id negated (row
/// ids are positive, so it never meets a real channel), at 10/s.
fn audio_video_bucket(channel: &LiveChannel, job: &OutboxJob) -> Option<(ChannelId, RateLimits)> {
    if channel.record.kind != ChannelKind::Messenger {
        return None;
    }
    let rich = job.content.rich.as_ref()?;
    let MessageBody::Media { kind, .. } = &rich.body else {
        return None;
    };
    matches!(kind, MediaKind::Audio | MediaKind::Video).then(|| {
        (
            ChannelId(-job.channel_id.0),
            RateLimits {
                per_second: MESSENGER_AUDIO_VIDEO_PER_SECOND,
                per_recipient_per_second: None,
                per_group_per_minute: None,
            },
        )
    })
}

/// Wall-clock milliseconds for a monotonic instant (for `run_at` columns).
fn millis_at(t: Instant) -> Millis {
    let ahead = t.saturating_duration_since(Instant::now());
    Millis::now().plus_millis(i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX))
}

/// Results that changed nothing because their claim was no longer current: the fence at work.
/// Each is a send whose outcome the database did not take (the row had been recovered), so it
/// is worth a warning.
fn report_stale(stale: u64) {
    if stale > 0 {
        tracing::warn!(
            stale,
            "send results of a lost claim were not recorded (stale claim)"
        );
    }
}

/// This process's identity: the configured node name, `#`, a random boot id. A restart is a new
/// process, so it can tell its previous life's rows (same name, another boot, no heartbeat) from
/// those of a live process that happens to share its name.
pub fn process_identity(node_id: &str) -> String {
    format!(
        "{node_id}{}{:016x}",
        switchboard_storage::BOOT_SEPARATOR,
        fastrand::u64(..)
    )
}
