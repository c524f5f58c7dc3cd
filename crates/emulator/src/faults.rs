//! Fault injection: make the next N (or a random share of) matching API calls
//! fail the way the real platforms fail.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::Platform;

/// Which calls a fault applies to, how often, and what happens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// `None` = both platforms (platform-specific faults still only hit their
    /// own platform: a `GraphError` never fires on a Telegram call).
    #[serde(default)]
    pub platform: Option<Platform>,
    /// Method as recorded in the call log (`messages`, `sendMessage`, ...),
    /// compared case-insensitively; `None` = every method.
    #[serde(default)]
    pub method: Option<String>,
    /// Apply to the next N matching calls, then expire; `None` = forever.
    #[serde(default)]
    pub times: Option<u32>,
    /// 0..=1; each matching call rolls the dice. 1.0 = always.
    #[serde(default = "one")]
    pub probability: f64,
    pub fault: Fault,
}

fn one() -> f64 {
    1.0
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Fault {
    /// A Graph API error body with this HTTP status.
    GraphError {
        http_status: u16,
        code: i64,
        #[serde(default)]
        subcode: Option<i64>,
        message: String,
    },
    /// A Bot API error; HTTP status = `error_code`. `retry_after` becomes
    /// `parameters.retry_after`.
    TelegramError {
        error_code: i64,
        description: String,
        #[serde(default)]
        retry_after: Option<u64>,
    },
    /// Sleep, then process the call normally (further rules still apply).
    Latency { ms: u64 },
    /// HTTP 500 in the platform's own error shape.
    ServerError,
    /// The request is not processed; the TCP connection is closed before any
    /// response byte, so the client sees a transport error.
    DropConnection,
}

impl Fault {
    /// Graph error with HTTP 400 and a generic message, e.g.
    /// `Fault::graph(100, 2018001)` or `Fault::graph(2, None)`.
    pub fn graph(code: i64, subcode: impl Into<Option<i64>>) -> Self {
        Fault::GraphError {
            http_status: 400,
            code,
            subcode: subcode.into(),
            message: format!("(#{code}) Emulated error"),
        }
    }

    /// Bot API error with `error_code` as HTTP status.
    pub fn telegram(error_code: i64, description: impl Into<String>) -> Self {
        Fault::TelegramError {
            error_code,
            description: description.into(),
            retry_after: None,
        }
    }

    /// Telegram flood control: 429 with `parameters.retry_after`.
    pub fn telegram_flood(retry_after: u64) -> Self {
        Fault::TelegramError {
            error_code: 429,
            description: format!("Too Many Requests: retry after {retry_after}"),
            retry_after: Some(retry_after),
        }
    }

    pub fn latency(ms: u64) -> Self {
        Fault::Latency { ms }
    }

    fn applies_to(&self, platform: Platform) -> bool {
        match self {
            Fault::GraphError { .. } => platform == Platform::Messenger,
            Fault::TelegramError { .. } => platform == Platform::Telegram,
            _ => true,
        }
    }
}

impl FaultRule {
    /// Every matching call, forever, on both platforms.
    pub fn always(fault: Fault) -> Self {
        FaultRule {
            platform: None,
            method: None,
            times: None,
            probability: 1.0,
            fault,
        }
    }

    /// The next `n` matching calls.
    pub fn next(n: u32, fault: Fault) -> Self {
        FaultRule {
            times: Some(n),
            ..FaultRule::always(fault)
        }
    }

    pub fn on_platform(mut self, platform: Platform) -> Self {
        self.platform = Some(platform);
        self
    }

    pub fn on_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    pub fn with_probability(mut self, p: f64) -> Self {
        self.probability = p;
        self
    }

    fn matches(&self, platform: Platform, method: &str) -> bool {
        self.platform.is_none_or(|p| p == platform)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.fault.applies_to(platform)
    }
}

/// What to do with one call.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub latency_ms: u64,
    /// A non-latency fault that replaces normal processing.
    pub fault: Option<Fault>,
}

pub(crate) struct FaultSet {
    rules: Mutex<Vec<FaultRule>>,
    /// Lets the hot path skip the lock when no rule is installed.
    len: AtomicUsize,
}

impl FaultSet {
    pub fn new() -> Self {
        FaultSet {
            rules: Mutex::new(Vec::new()),
            len: AtomicUsize::new(0),
        }
    }

    pub fn add(&self, rule: FaultRule) {
        let mut g = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        g.push(rule);
        self.len.store(g.len(), Ordering::Release);
    }

    pub fn clear(&self) {
        let mut g = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        g.clear();
        self.len.store(0, Ordering::Release);
    }

    /// Rules are consulted in insertion order: every firing latency rule adds
    /// its delay, and the first firing other rule decides the outcome. A rule
    /// whose dice roll fails does not use up one of its `times`.
    pub fn decide(&self, platform: Platform, method: &str) -> Decision {
        let mut d = Decision::default();
        if self.len.load(Ordering::Acquire) == 0 {
            return d;
        }
        let mut g = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        let mut i = 0;
        while i < g.len() {
            let rule = &mut g[i];
            let fires = rule.matches(platform, method)
                && (rule.probability >= 1.0 || fastrand::f64() < rule.probability);
            if !fires {
                i += 1;
                continue;
            }
            let fault = rule.fault.clone();
            let expired = match rule.times.as_mut() {
                Some(t) => {
                    *t = t.saturating_sub(1);
                    *t == 0
                }
                None => false,
            };
            if expired {
                g.remove(i);
            } else {
                i += 1;
            }
            match fault {
                Fault::Latency { ms } => d.latency_ms += ms,
                other => {
                    d.fault = Some(other);
                    break;
                }
            }
        }
        self.len.store(g.len(), Ordering::Release);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_expire_and_platform_kinds_filter() {
        let set = FaultSet::new();
        set.add(FaultRule::next(1, Fault::graph(2, None)));
        // A Graph error never fires on Telegram and is not used up by it.
        assert!(
            set.decide(Platform::Telegram, "sendMessage")
                .fault
                .is_none()
        );
        assert!(set.decide(Platform::Messenger, "messages").fault.is_some());
        assert!(set.decide(Platform::Messenger, "messages").fault.is_none());
    }

    #[test]
    fn latency_accumulates_and_zero_probability_never_fires() {
        let set = FaultSet::new();
        set.add(FaultRule::always(Fault::latency(5)));
        set.add(FaultRule::always(Fault::ServerError).with_probability(0.0));
        let d = set.decide(Platform::Messenger, "messages");
        assert_eq!(d.latency_ms, 5);
        assert!(d.fault.is_none());
    }

    #[test]
    fn rule_json_shape() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"platform":"telegram","method":"sendMessage","times":1,
                "fault":{"type":"telegram_error","error_code":429,"description":"Too Many Requests: retry after 3","retry_after":3}}"#,
        )
        .expect("rule parses");
        assert_eq!(rule.probability, 1.0);
        assert_eq!(rule.fault, Fault::telegram_flood(3));
    }
}
