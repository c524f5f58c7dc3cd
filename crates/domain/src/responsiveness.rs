//! Meta's responsiveness, exactly as the Page shows it (protocols.md D1), computed from stored
//! messages so a business can trust the number before Meta shows it.
//!
//! - A person's message **counts** when it is the first after at least 24 hours in which neither
//!   side wrote (a new conversation). Only the Page's **first reply** to it counts.
//! - Replies are what the team or its bots wrote (API replies count); instant replies and away
//!   messages (`AuthorKind::Automation`) and campaigns never do — they still count as the Page
//!   having written, so they keep a conversation going.
//! - While the Page was away, the clock of a message received then starts when it came back.
//! - **Response rate**: the share of counted messages that got a reply. **Response time**: the
//!   average of the fastest 90 % of first-reply times (rounded up, so one reply is one reply).
//!   Over the counted messages of the 30 days before the last counted one; with fewer than 10
//!   there, the last 10; with fewer than 10 ever, all.
//! - **Badge** ("Very responsive"): rate ≥ 90 % and time ≤ 15 minutes over the last 7 days.

use serde::Serialize;

use crate::message::{AuthorKind, Direction};
use crate::time::Millis;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
const NEW_CONVERSATION_GAP: i64 = 24 * HOUR;
const WINDOW: i64 = 30 * DAY;
const MIN_COUNTED: usize = 10;
const BADGE_PERIOD: i64 = 7 * DAY;
const BADGE_RATE: f64 = 0.9;
const BADGE_TIME_SECS: f64 = 15.0 * 60.0;

/// One stored message of a person's thread, as this computation needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadMessage {
    pub at: Millis,
    pub direction: Direction,
    pub author: AuthorKind,
}

/// A time the Page was set to away: `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Away {
    pub from: Millis,
    pub until: Millis,
}

/// A counted message and its first reply, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counted {
    pub at: Millis,
    /// When the clock started (later than `at` if it arrived while the Page was away).
    pub clock_from: Millis,
    pub replied_at: Option<Millis>,
}

impl Counted {
    fn response_ms(&self) -> Option<i64> {
        self.replied_at.map(|r| (r.0 - self.clock_from.0).max(0))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Responsiveness {
    /// 0.0–1.0; `None` with nothing counted.
    pub response_rate: Option<f64>,
    /// Average of the fastest 90 % of first-reply times, in seconds.
    pub response_time_secs: Option<f64>,
    /// Counted messages the figures are over.
    pub counted: usize,
    pub replied: usize,
    pub badge: bool,
    /// The badge's own figures (the last 7 days).
    pub badge_rate: Option<f64>,
    pub badge_time_secs: Option<f64>,
    pub badge_counted: usize,
}

fn replies(author: AuthorKind) -> bool {
    matches!(author, AuthorKind::Agent | AuthorKind::Bot)
}

/// The counted messages of one person's thread (messages in any order).
pub fn counted_messages(thread: &[ThreadMessage], away: &[Away]) -> Vec<Counted> {
    let mut messages = thread.to_vec();
    messages.sort_by_key(|m| m.at);
    let mut counted: Vec<Counted> = Vec::new();
    let mut last_any: Option<Millis> = None;
    // The counted message still waiting for its first reply.
    let mut open: Option<usize> = None;
    for m in &messages {
        match m.direction {
            Direction::In => {
                let new_conversation =
                    last_any.is_none_or(|t| m.at.0 - t.0 >= NEW_CONVERSATION_GAP);
                if new_conversation {
                    counted.push(Counted {
                        at: m.at,
                        clock_from: clock_start(m.at, away),
                        replied_at: None,
                    });
                    open = Some(counted.len() - 1);
                }
            }
            Direction::Out => {
                if replies(m.author)
                    && let Some(i) = open.take()
                {
                    counted[i].replied_at = Some(m.at);
                }
            }
        }
        last_any = Some(m.at);
    }
    counted
}

fn clock_start(at: Millis, away: &[Away]) -> Millis {
    away.iter()
        .find(|a| a.from <= at && at < a.until)
        .map_or(at, |a| a.until)
}

/// Rate and time over a set of counted messages.
fn figures(counted: &[Counted]) -> (Option<f64>, Option<f64>) {
    if counted.is_empty() {
        return (None, None);
    }
    let mut times: Vec<i64> = counted.iter().filter_map(Counted::response_ms).collect();
    let rate = times.len() as f64 / counted.len() as f64;
    if times.is_empty() {
        return (Some(rate), None);
    }
    times.sort_unstable();
    let fastest = (times.len() * 9).div_ceil(10);
    let sum: i64 = times[..fastest].iter().sum();
    (Some(rate), Some(sum as f64 / fastest as f64 / 1000.0))
}

/// The Page's figures at `now` from every person's counted messages.
pub fn responsiveness(mut counted: Vec<Counted>, now: Millis) -> Responsiveness {
    counted.retain(|c| c.at <= now);
    // A reply after `now` had not happened yet.
    for c in &mut counted {
        if c.replied_at.is_some_and(|r| r > now) {
            c.replied_at = None;
        }
    }
    counted.sort_by_key(|c| c.at);
    let considered: &[Counted] = match counted.last() {
        None => &[],
        Some(last) => {
            let start = counted.partition_point(|c| c.at.0 < last.at.0 - WINDOW);
            let in_window = counted.len() - start;
            if in_window >= MIN_COUNTED {
                &counted[start..]
            } else {
                &counted[counted.len().saturating_sub(MIN_COUNTED)..]
            }
        }
    };
    let (response_rate, response_time_secs) = figures(considered);
    let recent: Vec<Counted> = counted
        .iter()
        .copied()
        .filter(|c| c.at.0 > now.0 - BADGE_PERIOD)
        .collect();
    let (badge_rate, badge_time_secs) = figures(&recent);
    let badge = matches!((badge_rate, badge_time_secs),
        (Some(r), Some(t)) if r >= BADGE_RATE && t <= BADGE_TIME_SECS);
    Responsiveness {
        response_rate,
        response_time_secs,
        counted: considered.len(),
        replied: considered.iter().filter(|c| c.replied_at.is_some()).count(),
        badge,
        badge_rate,
        badge_time_secs,
        badge_counted: recent.len(),
    }
}
