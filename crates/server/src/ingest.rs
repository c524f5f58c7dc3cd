//! The ingest writer: group commit for webhooks.
//!
//! Handlers hand their parsed events to a writer task and wait. The writer takes everything that
//! has queued up (up to a batch limit), stores it in one transaction, and only then answers every
//! waiting handler, which acknowledges its webhook. One fsync serves many events, which is what
//! lets an acknowledge-after-commit endpoint keep up with platform traffic on SQLite.
//!
//! Events are sharded over writers by (channel, person), so one person's events are stored in
//! the order they arrived while different people's run in parallel (PostgreSQL only; SQLite has a
//! single writer, so it gets one shard).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use switchboard_storage::{IngestItem, IngestOutcome, Store};
use tokio::sync::{Notify, mpsc, oneshot};

const MAX_BATCH_EVENTS: usize = 1024;

type Reply = oneshot::Sender<Result<Vec<IngestOutcome>, ()>>;

struct Job {
    items: Vec<IngestItem>,
    reply: Reply,
}

#[derive(Clone)]
pub struct IngestHandle {
    shards: Arc<[mpsc::Sender<Job>]>,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the database did not commit the events")]
    Unavailable,
}

impl IngestHandle {
    /// Starts `shards` writer tasks. `committed` is notified after every commit that queued
    /// outbound messages, so the dispatcher wakes at once.
    pub fn start(store: Store, shards: usize, timeout: Duration, committed: Arc<Notify>) -> Self {
        let senders: Vec<_> = (0..shards.max(1))
            .map(|_| {
                let (tx, rx) = mpsc::channel(4096);
                tokio::spawn(writer(store.clone(), rx, committed.clone()));
                tx
            })
            .collect();
        IngestHandle {
            shards: senders.into(),
            timeout,
        }
    }

    /// Stores the items durably; returns only after their transaction(s) committed.
    pub async fn submit(&self, items: Vec<IngestItem>) -> Result<Vec<IngestOutcome>, IngestError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        if self.shards.len() == 1 {
            return self.submit_to(0, items).await;
        }
        // Split by shard, remembering each item's position so outcomes come back in order.
        let mut per_shard: Vec<Vec<(usize, IngestItem)>> = vec![Vec::new(); self.shards.len()];
        for (i, item) in items.into_iter().enumerate() {
            per_shard[self.shard_of(&item)].push((i, item));
        }
        let total: usize = per_shard.iter().map(Vec::len).sum();
        let mut outcomes = vec![IngestOutcome::Duplicate; total];
        let mut waits = Vec::new();
        for (shard, entries) in per_shard
            .into_iter()
            .enumerate()
            .filter(|(_, e)| !e.is_empty())
        {
            let (positions, items): (Vec<_>, Vec<_>) = entries.into_iter().unzip();
            waits.push((positions, self.submit_to(shard, items)));
        }
        for (positions, wait) in waits {
            for (pos, outcome) in positions.into_iter().zip(wait.await?) {
                outcomes[pos] = outcome;
            }
        }
        Ok(outcomes)
    }

    async fn submit_to(
        &self,
        shard: usize,
        items: Vec<IngestItem>,
    ) -> Result<Vec<IngestOutcome>, IngestError> {
        let (reply, answer) = oneshot::channel();
        self.shards[shard]
            .send(Job { items, reply })
            .await
            .map_err(|_| IngestError::Unavailable)?;
        match tokio::time::timeout(self.timeout, answer).await {
            Ok(Ok(Ok(outcomes))) => Ok(outcomes),
            _ => Err(IngestError::Unavailable),
        }
    }

    fn shard_of(&self, item: &IngestItem) -> usize {
        let mut h = DefaultHasher::new();
        item.channel_id.hash(&mut h);
        item.envelope
            .contact
            .as_ref()
            .map(|c| c.external_id.as_str())
            .hash(&mut h);
        (h.finish() % self.shards.len() as u64) as usize
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<Job>, committed: Arc<Notify>) {
    while let Some(first) = rx.recv().await {
        let mut waiting = Vec::new();
        let mut batch = Vec::with_capacity(first.items.len());
        let take = |job: Job, waiting: &mut Vec<(usize, Reply)>, batch: &mut Vec<IngestItem>| {
            waiting.push((job.items.len(), job.reply));
            batch.extend(job.items);
        };
        take(first, &mut waiting, &mut batch);
        while batch.len() < MAX_BATCH_EVENTS {
            match rx.try_recv() {
                Ok(job) => take(job, &mut waiting, &mut batch),
                Err(_) => break,
            }
        }
        match store.ingest(&batch).await {
            Ok(outcomes) => {
                let queued_any = outcomes.iter().any(
                    |o| matches!(o, IngestOutcome::Stored { queued, .. } if !queued.is_empty()),
                );
                let mut outcomes = outcomes.into_iter();
                for (n, reply) in waiting {
                    let _ = reply.send(Ok(outcomes.by_ref().take(n).collect()));
                }
                if queued_any {
                    committed.notify_waiters();
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "ingest batch not committed; webhooks answered 503");
                for (_, reply) in waiting {
                    let _ = reply.send(Err(()));
                }
            }
        }
    }
}
