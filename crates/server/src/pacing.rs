//! Pacing: how fast each channel may send, and pauses the platform asked for.
//!
//! Each channel is paced by evenly spaced send slots (a GCRA without burst): at `R` messages per
//! second a slot opens every `1/R` seconds, so no one-second window ever carries a burst above
//! `R`. Telegram channels also space messages to the same chat. A 429/613 from the platform
//! pauses only that channel until its `retry_after` (or a backoff): other channels keep flowing.
//!
//! Hand-written rather than `governor` because the dispatcher needs two things governor does not
//! offer: "when is the next slot" (to defer a row instead of holding it) and "pause until", and
//! an explicit `now` keeps it testable without sleeping.
//!
//! Several nodes on one PostgreSQL share each channel's rate: every node heartbeats into the
//! database and paces at `R / live nodes` (see [`Pacer::set_live_nodes`]), so together they stay
//! under `R` without a database round trip per send. The price: a node that idles leaves its share
//! unused, and each leaves a little headroom for the jitter of unaligned schedules. A node that
//! joins sends only after two heartbeat periods, by when the others have shrunk their share.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use switchboard_domain::{ChannelId, RateLimits};

/// Whether a message may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    Go,
    /// Not before this instant (the next free slot, or the end of a pause).
    NotBefore(Instant),
}

#[derive(Default)]
pub struct Pacer {
    channels: Mutex<HashMap<ChannelId, ChannelPace>>,
    /// Nodes sharing the channels' rates, this one included (0 is read as 1).
    live_nodes: AtomicU32,
}

struct ChannelPace {
    next_slot: Instant,
    paused_until: Option<Instant>,
    next_for_recipient: HashMap<String, Instant>,
}

/// The most a late send may keep the old schedule by (see [`Pacer::acquire`]).
const MAX_CATCH_UP: Duration = Duration::from_millis(2);

/// The part of a shared rate the nodes leave unused, for their unaligned schedules' jitter.
const SHARED_HEADROOM: f64 = 0.03;

/// Recipient entries are dropped once their slot has passed, when the map grows past this.
const RECIPIENT_PRUNE_AT: usize = 10_000;

impl Pacer {
    /// How many nodes share the rates now (from the database heartbeat).
    pub fn set_live_nodes(&self, n: u32) {
        self.live_nodes.store(n.max(1), Ordering::Relaxed);
    }

    /// This node's share of a channel's limits. Shared among several nodes, each share also
    /// gives up [`SHARED_HEADROOM`]: the nodes' schedules are not aligned, and each can land a
    /// send late across a second's boundary, so their jitter adds up where one node's does not.
    fn share(&self, limits: RateLimits) -> RateLimits {
        let live = self.live_nodes.load(Ordering::Relaxed).max(1);
        let n = if live > 1 {
            f64::from(live) / (1.0 - SHARED_HEADROOM)
        } else {
            1.0
        };
        RateLimits {
            per_second: limits.per_second / n,
            per_recipient_per_second: limits.per_recipient_per_second.map(|r| r / n),
            per_group_per_minute: limits.per_group_per_minute.map(|r| r / n),
        }
    }

    /// Takes a send slot for `recipient` on `channel` if one is open at `now`.
    pub fn acquire(
        &self,
        channel: ChannelId,
        limits: RateLimits,
        recipient: &str,
        now: Instant,
    ) -> Pace {
        let limits = self.share(limits);
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let pace = channels.entry(channel).or_insert_with(|| ChannelPace {
            next_slot: now,
            paused_until: None,
            next_for_recipient: HashMap::new(),
        });
        if let Some(until) = pace.paused_until {
            if until > now {
                return Pace::NotBefore(until);
            }
            pace.paused_until = None;
        }
        let recipient_slot = pace.next_for_recipient.get(recipient).copied();
        let ready = recipient_slot.map_or(pace.next_slot, |r| r.max(pace.next_slot));
        if ready > now {
            return Pace::NotBefore(ready);
        }
        let (spacing, catch_up) = schedule(limits.per_second);
        // Keep the schedule when we are only a little late, so timer overshoot does not erode the
        // rate; later than that, start afresh rather than catching up in a burst.
        pace.next_slot = if now.saturating_duration_since(pace.next_slot) <= catch_up {
            pace.next_slot + spacing
        } else {
            now + spacing
        };
        if let Some(per_recipient) = limits.recipient_rate(recipient) {
            if pace.next_for_recipient.len() >= RECIPIENT_PRUNE_AT {
                pace.next_for_recipient.retain(|_, slot| *slot > now);
            }
            pace.next_for_recipient
                .insert(recipient.to_owned(), now + interval(per_recipient));
        }
        Pace::Go
    }

    /// Stops all sending on `channel` until `until` (a platform rate limit, broken credentials).
    pub fn pause(&self, channel: ChannelId, until: Instant) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let pace = channels.entry(channel).or_insert_with(|| ChannelPace {
            next_slot: until,
            paused_until: None,
            next_for_recipient: HashMap::new(),
        });
        pace.paused_until = Some(pace.paused_until.map_or(until, |u| u.max(until)));
    }

    /// Channels that cannot send within `horizon`: paused, or booked up. The dispatcher leaves
    /// their rows in the queue instead of claiming rows it would only give back.
    pub fn busy_channels(&self, now: Instant, horizon: Duration) -> Vec<ChannelId> {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels
            .iter()
            .filter(|(_, p)| p.paused_until.is_some_and(|u| u > now) || p.next_slot > now + horizon)
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Slot spacing and how late a send may be while keeping the schedule, for a limit of `R`/s.
///
/// Sends land a little after their slots (a timer wakes ~1 ms late), so a send for a slot just
/// before a second's boundary can land just after it. Two regimes keep every calendar second at
/// or under `R` while reaching at least 98% of it:
/// - up to 50/s, slots every `1/R` and at most 2 ms of catch-up (the lateness is tiny next to the
///   spacing, so little rate is lost);
/// - above 50/s, slots every `1/(R-1)` with up to one spacing of catch-up: lateness never
///   accumulates, and the spare slot absorbs a send pushed across the boundary.
fn schedule(per_second: f64) -> (Duration, Duration) {
    if per_second <= 50.0 {
        let spacing = interval(per_second);
        (spacing, (spacing / 10).min(MAX_CATCH_UP))
    } else {
        let spacing = interval(per_second - 1.0);
        (spacing, spacing)
    }
}

/// The spacing of slots, rounded *up* to whole nanoseconds: rounding down would let `R + 1`
/// slots fit into one second (30 × 33.333333 ms < 1 s).
fn interval(per_second: f64) -> Duration {
    let nanos = (1e9 / per_second.max(1e-9)).ceil();
    Duration::from_nanos(if nanos.is_finite() {
        nanos.min(u64::MAX as f64) as u64
    } else {
        u64::MAX
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::ChannelKind;

    const CH: ChannelId = ChannelId(1);

    #[test]
    fn each_of_three_nodes_paces_at_a_third_of_the_rate_less_the_headroom() {
        let pacer = Pacer::default();
        pacer.set_live_nodes(3);
        let start = Instant::now();
        let mut now = start;
        let mut sent = 0;
        while now < start + Duration::from_secs(10) {
            match pacer.acquire(CH, limits(30.0, None), "r", now) {
                Pace::Go => sent += 1,
                Pace::NotBefore(t) => now = t.max(now + Duration::from_micros(1)),
            }
        }
        // 9.7/s (a third, less the shared headroom) for 10 s, give or take the first slot.
        assert!((96..=98).contains(&sent), "{sent}");
        pacer.set_live_nodes(0);
        assert_eq!(
            pacer.share(limits(30.0, Some(1.0))),
            limits(30.0, Some(1.0))
        );
    }

    fn limits(per_second: f64, per_recipient: Option<f64>) -> RateLimits {
        RateLimits::parse(per_second, per_recipient).unwrap()
    }

    /// Replays acquisitions at the moments the pacer allows, and counts what lands in each
    /// one-second window.
    fn simulate(limits: RateLimits, recipients: usize, seconds: u64) -> Vec<usize> {
        let pacer = Pacer::default();
        let start = Instant::now();
        let mut now = start;
        let mut sends = Vec::new();
        let mut i = 0usize;
        while now < start + Duration::from_secs(seconds) {
            let recipient = format!("r{}", i % recipients);
            match pacer.acquire(CH, limits, &recipient, now) {
                Pace::Go => {
                    sends.push(now);
                    i += 1;
                }
                Pace::NotBefore(t) => now = t.max(now + Duration::from_micros(1)),
            }
        }
        let mut per_second = vec![0; seconds as usize];
        for s in sends {
            let second = (s - start).as_secs() as usize;
            if second < per_second.len() {
                per_second[second] += 1;
            }
        }
        per_second
    }

    #[test]
    fn a_channel_never_exceeds_its_rate_in_any_second_and_reaches_it() {
        for rate in [10.0, 30.0, 300.0] {
            let counts = simulate(limits(rate, None), 1000, 5);
            for c in &counts {
                assert!(*c as f64 <= rate, "{rate}/s: {counts:?}");
                assert!(*c as f64 >= rate * 0.98, "{rate}/s: {counts:?}");
            }
        }
    }

    #[test]
    fn a_late_send_is_not_followed_by_a_burst() {
        let pacer = Pacer::default();
        let l = limits(5.0, None);
        let start = Instant::now();
        assert_eq!(pacer.acquire(CH, l, "a", start), Pace::Go);
        // The next slot is at +200 ms; we only get there at +330 ms.
        let late = start + Duration::from_millis(330);
        assert_eq!(pacer.acquire(CH, l, "b", late), Pace::Go);
        assert_eq!(
            pacer.acquire(CH, l, "c", late + Duration::from_millis(80)),
            Pace::NotBefore(late + Duration::from_millis(200))
        );
    }

    #[test]
    fn one_telegram_chat_gets_one_message_a_second() {
        let counts = simulate(limits(30.0, Some(1.0)), 1, 5);
        assert!(counts.iter().all(|c| *c <= 1), "{counts:?}");
    }

    #[test]
    fn a_telegram_group_gets_twenty_messages_a_minute_and_a_private_chat_one_a_second() {
        let l = ChannelKind::Telegram.default_rate_limits();
        let pacer = Pacer::default();
        let start = Instant::now();
        let (mut group, mut private) = (Vec::new(), Vec::new());
        let mut now = start;
        while now < start + Duration::from_secs(60) {
            let mut next = now + Duration::from_secs(3600);
            for (chat, sends) in [("-1001234567890", &mut group), ("42", &mut private)] {
                match pacer.acquire(CH, l, chat, now) {
                    // Ask again at once: it is the pacer's answer that tells when.
                    Pace::Go => {
                        sends.push(now);
                        next = now;
                    }
                    Pace::NotBefore(t) => next = next.min(t),
                }
            }
            now = next.max(now + Duration::from_micros(1));
        }
        assert_eq!(group.len(), 20, "20 per minute in the group");
        assert!(
            group
                .windows(2)
                .all(|w| w[1] - w[0] >= Duration::from_secs(3))
        );
        assert!((59..=61).contains(&private.len()), "{}", private.len());
    }

    #[test]
    fn a_pause_stops_only_its_own_channel() {
        let pacer = Pacer::default();
        let now = Instant::now();
        let l = limits(100.0, None);
        pacer.pause(CH, now + Duration::from_secs(30));
        assert_eq!(
            pacer.acquire(CH, l, "a", now),
            Pace::NotBefore(now + Duration::from_secs(30))
        );
        assert_eq!(pacer.acquire(ChannelId(2), l, "a", now), Pace::Go);
        assert_eq!(
            pacer.busy_channels(now, Duration::from_millis(100)),
            vec![CH]
        );
        assert_eq!(
            pacer.acquire(CH, l, "a", now + Duration::from_secs(31)),
            Pace::Go
        );
    }
}
