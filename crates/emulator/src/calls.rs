//! The call log: every platform API request Switchboard made to the emulator.
//!
//! A benchmark polls `count_calls` in a tight loop while pushing ~10k req/s,
//! so counts come from per-method counters kept next to the log (O(1) lookup,
//! no cloning), and the retained records are bounded.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::Platform;

/// One API request made to the emulator and what it answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Increasing across the emulator's life (not reset by `clear_calls`).
    pub seq: u64,
    /// Emulator clock (epoch ms) when the answer was produced.
    pub at_ms: i64,
    pub platform: Platform,
    /// Messenger: `messages`, `user_profile`, `messenger_profile`,
    /// `message_attachments`, `personas`, `subscribed_apps`, `page`, `unknown`.
    /// Telegram: the canonical method name (`sendMessage`), or the name as
    /// requested when the method does not exist.
    pub method: String,
    /// Messenger: the page id the token resolves to ("" if unknown).
    /// Telegram: the bot token as used in the URL.
    pub credential: String,
    /// Parameters after decoding query, JSON, form or multipart.
    pub request: serde_json::Value,
    /// HTTP status answered; 0 when the connection was dropped by a fault.
    pub status: u16,
    pub response: serde_json::Value,
}

impl CallRecord {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    total: usize,
    ok: usize,
}

struct LogInner {
    next_seq: u64,
    records: VecDeque<CallRecord>,
    /// Indexed by `Platform::index`, keyed by method.
    counts: [HashMap<String, Counts>; 2],
}

pub(crate) struct CallLog {
    inner: Mutex<LogInner>,
    /// Woken on every record so `wait_for` needs no polling.
    notify: Notify,
    capacity: usize,
}

/// Everything a handler knows about a call; `seq` and `at_ms` are added here.
pub(crate) struct NewCall {
    pub platform: Platform,
    pub method: String,
    pub credential: String,
    pub request: serde_json::Value,
    pub status: u16,
    pub response: serde_json::Value,
}

impl CallLog {
    pub fn new(capacity: usize) -> Self {
        CallLog {
            inner: Mutex::new(LogInner {
                next_seq: 1,
                records: VecDeque::new(),
                counts: [HashMap::new(), HashMap::new()],
            }),
            notify: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        // A panic while holding this lock cannot leave the log inconsistent in
        // a way that matters for a test fake; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, call: NewCall, at_ms: i64) {
        let ok = (200..300).contains(&call.status);
        {
            let mut g = self.lock();
            let seq = g.next_seq;
            g.next_seq += 1;
            let counts = &mut g.counts[call.platform.index()];
            match counts.get_mut(call.method.as_str()) {
                Some(c) => {
                    c.total += 1;
                    c.ok += usize::from(ok);
                }
                None => {
                    counts.insert(
                        call.method.clone(),
                        Counts {
                            total: 1,
                            ok: usize::from(ok),
                        },
                    );
                }
            }
            if g.records.len() >= self.capacity {
                g.records.pop_front();
            }
            g.records.push_back(CallRecord {
                seq,
                at_ms,
                platform: call.platform,
                method: call.method,
                credential: call.credential,
                request: call.request,
                status: call.status,
                response: call.response,
            });
        }
        self.notify.notify_waiters();
    }

    pub fn all(&self) -> Vec<CallRecord> {
        self.lock().records.iter().cloned().collect()
    }

    pub fn matching(&self, platform: Platform, method: &str, only_ok: bool) -> Vec<CallRecord> {
        self.lock()
            .records
            .iter()
            .filter(|r| {
                r.platform == platform
                    && method_matches(&r.method, method)
                    && (!only_ok || r.is_success())
            })
            .cloned()
            .collect()
    }

    pub fn count(&self, platform: Platform, method: &str, only_ok: bool) -> usize {
        let g = self.lock();
        let counts = &g.counts[platform.index()];
        let pick = |c: &Counts| if only_ok { c.ok } else { c.total };
        if let Some(c) = counts.get(method) {
            return pick(c);
        }
        // Telegram method names are case-insensitive; the map is tiny.
        counts
            .iter()
            .filter(|(k, _)| method_matches(k, method))
            .map(|(_, c)| pick(c))
            .sum()
    }

    pub fn clear(&self) {
        let mut g = self.lock();
        g.records.clear();
        g.counts[0].clear();
        g.counts[1].clear();
    }

    pub async fn wait_for(
        &self,
        platform: Platform,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Vec<CallRecord> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before checking, so a record landing between
            // the check and the await still wakes us.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count(platform, method, true) >= n {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                break;
            }
        }
        self.matching(platform, method, true)
    }
}

/// `""` and `"*"` match every method; otherwise a case-insensitive compare.
fn method_matches(recorded: &str, wanted: &str) -> bool {
    wanted.is_empty() || wanted == "*" || recorded.eq_ignore_ascii_case(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: &str, status: u16) -> NewCall {
        NewCall {
            platform: Platform::Telegram,
            method: method.into(),
            credential: "t".into(),
            request: serde_json::Value::Null,
            status,
            response: serde_json::Value::Null,
        }
    }

    #[test]
    fn counters_survive_capacity_eviction() {
        let log = CallLog::new(2);
        for s in [200, 429, 200] {
            log.record(call("sendMessage", s), 0);
        }
        assert_eq!(log.all().len(), 2);
        assert_eq!(log.count(Platform::Telegram, "sendMessage", false), 3);
        assert_eq!(log.count(Platform::Telegram, "sendmessage", true), 2);
        assert_eq!(log.count(Platform::Messenger, "sendMessage", false), 0);
        log.clear();
        assert_eq!(log.count(Platform::Telegram, "sendMessage", false), 0);
    }
}
