//! The live event stream (`GET /api/v1/events`): new messages and what people did, for each
//! actor only what they may see, resumable from the last event they got.
//!
//! Each stream reads the database from its position — `message.created` from the messages
//! table itself (ingest writes nothing extra for it), everything else from `inbox_events`,
//! which the service layer writes — so every node serves every event, whichever node wrote it,
//! and a reconnect with `Last-Event-ID` continues exactly where it stopped. A stream waits on
//! the node's wake-up (a commit here) or a short poll (a commit on another node).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_domain::{ChannelId, Millis, UserId};
use switchboard_storage::ConversationRow;

use crate::Service;
use crate::actor::{Actor, Scope};
use crate::error::{ServiceError, ServiceResult};

/// How often a stream looks for what other nodes wrote.
const POLL: Duration = Duration::from_millis(250);
/// How long an id seen missing is asked for again (a PostgreSQL transaction that took an id
/// earlier but committed later); after that it was a rollback.
const HOLE_PATIENCE: Duration = Duration::from_secs(10);
const MAX_HOLES: usize = 1000;
const BATCH: i64 = 200;
/// The actor's scope is read again this often (a new team, a deactivation).
const SCOPE_REFRESH: Duration = Duration::from_secs(30);

/// One event as the stream sends it: `id:` (the position to resume from), `event:` and `data:`.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    pub id: String,
    pub kind: String,
    pub data: Value,
}

/// Where a reader is in one source, and which smaller ids it has not seen yet.
#[derive(Debug, Clone, Default)]
struct Tail {
    last: i64,
    holes: Vec<(i64, Instant)>,
}

impl Tail {
    fn holes(&mut self, now: Instant) -> Vec<i64> {
        self.holes
            .retain(|(_, seen)| now.duration_since(*seen) < HOLE_PATIENCE);
        self.holes.iter().map(|(id, _)| *id).collect()
    }

    /// Takes note of ids read (ascending); returns whether `id` is new to this reader.
    fn observe(&mut self, id: i64, now: Instant) -> bool {
        if id > self.last {
            for missing in (self.last + 1)..id {
                if self.holes.len() >= MAX_HOLES {
                    break;
                }
                self.holes.push((missing, now));
            }
            self.last = id;
            true
        } else if let Some(i) = self.holes.iter().position(|(h, _)| *h == id) {
            self.holes.swap_remove(i);
            true
        } else {
            false
        }
    }
}

/// A stream for one actor.
pub struct EventStream {
    service: Service,
    actor: Actor,
    scope: Scope,
    scope_read_at: Instant,
    events: Tail,
    messages: Tail,
    pending: VecDeque<LiveEvent>,
}

/// `Last-Event-ID` is `<inbox event id>.<message id>`.
fn parse_position(raw: &str) -> ServiceResult<(i64, i64)> {
    raw.split_once('.')
        .and_then(|(e, m)| Some((e.parse().ok()?, m.parse().ok()?)))
        .ok_or(ServiceError::Invalid {
            field: "Last-Event-ID",
            message: "not an event id this server sent".into(),
        })
}

impl Service {
    /// A stream of what the actor may see from now on — or from `last_event_id` on.
    pub async fn events(
        &self,
        actor: &Actor,
        last_event_id: Option<&str>,
    ) -> ServiceResult<EventStream> {
        let scope = self.conversation_scope(actor).await?;
        let (events, messages) = match last_event_id {
            Some(raw) => parse_position(raw)?,
            None => self.store.event_positions().await?,
        };
        Ok(EventStream {
            service: self.clone(),
            actor: actor.clone(),
            scope,
            scope_read_at: Instant::now(),
            events: Tail {
                last: events,
                holes: Vec::new(),
            },
            messages: Tail {
                last: messages,
                holes: Vec::new(),
            },
            pending: VecDeque::new(),
        })
    }

    /// Records an inbox event for the stream (`user`: only that person gets it).
    pub(crate) async fn emit(
        &self,
        kind: &str,
        conversation: &ConversationRow,
        user: Option<UserId>,
        data: Value,
    ) -> ServiceResult<()> {
        self.store
            .record_inbox_event(
                kind,
                conversation.id,
                conversation.channel_id,
                user,
                &data,
                Millis::now(),
            )
            .await?;
        self.wake.notify_waiters();
        Ok(())
    }
}

impl EventStream {
    /// The next event, waiting for one as long as it takes.
    pub async fn next(&mut self) -> ServiceResult<LiveEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            // Registered before reading, so a commit between the read and the wait wakes us.
            let wake = self.service.wake.clone();
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.fill().await?;
            if !self.pending.is_empty() {
                continue;
            }
            let _ = tokio::time::timeout(POLL, notified).await;
        }
    }

    fn position(&self) -> String {
        format!("{}.{}", self.events.last, self.messages.last)
    }

    fn visible(&self, channel: ChannelId, user: Option<UserId>) -> bool {
        self.scope.includes(channel) && user.is_none_or(|u| self.actor.user_id() == Some(u))
    }

    async fn fill(&mut self) -> ServiceResult<()> {
        if self.scope_read_at.elapsed() > SCOPE_REFRESH {
            self.scope = self.service.conversation_scope(&self.actor).await?;
            self.scope_read_at = Instant::now();
        }
        let now = Instant::now();
        let store = &self.service.store;
        let holes = self.messages.holes(now);
        for m in store
            .messages_after(self.messages.last, &holes, BATCH)
            .await?
        {
            if self.messages.observe(m.id, now) && self.visible(m.channel_id, None) {
                let data = json!({
                    "conversation_id": m.conversation_id,
                    "message_id": m.id,
                    "direction": m.direction,
                    "author_kind": m.author_kind,
                });
                let id = self.position();
                self.pending.push_back(LiveEvent {
                    id,
                    kind: "message.created".into(),
                    data,
                });
            }
        }
        let holes = self.events.holes(now);
        for e in store
            .inbox_events_after(self.events.last, &holes, BATCH)
            .await?
        {
            if self.events.observe(e.id, now) && self.visible(e.channel_id, e.user_id) {
                let mut data = e.data;
                data["conversation_id"] = json!(e.conversation_id);
                let id = self.position();
                self.pending.push_back(LiveEvent {
                    id,
                    kind: e.kind,
                    data,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_commit_below_the_position_is_still_read_once() {
        let now = Instant::now();
        let mut tail = Tail {
            last: 10,
            holes: Vec::new(),
        };
        assert!(tail.observe(11, now));
        assert!(tail.observe(13, now), "12 is taken but not committed yet");
        assert_eq!(tail.holes(now), vec![12]);
        assert!(tail.observe(12, now), "12 commits: read once");
        assert!(!tail.observe(12, now), "and not again");
        assert!(tail.holes(now).is_empty());
        tail.observe(15, now);
        assert!(
            tail.holes(now + HOLE_PATIENCE).is_empty(),
            "14 was a rollback"
        );
    }

    #[test]
    fn positions_round_trip() {
        assert_eq!(parse_position("12.345").unwrap(), (12, 345));
        assert!(parse_position("12").is_err());
    }
}
