//! Login throttling: failed attempts per account and per address within a window.
//!
//! Only failures count, so a person who types their password right is never slowed down; a
//! success clears their account's failures. Held in memory per node: with several nodes behind
//! a balancer an attacker gets each node's allowance (a known limit, written in ARCHITECTURE.md);
//! argon2's cost still bounds the rate of guesses per node.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures per account within [`WINDOW`] before its logins are refused.
pub const PER_ACCOUNT: usize = 5;
/// Failures per client address within [`WINDOW`] (many accounts from one place).
pub const PER_ADDRESS: usize = 20;
/// Keys remembered before the oldest idle ones are dropped.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginThrottle {
    /// `Some(wait)` when the account or the address has used up its failures.
    pub fn check(&self, account: &str, address: Option<&str>, now: Instant) -> Option<Duration> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = None;
        for (key, limit) in keys(account, address) {
            if let Some(times) = failures.get_mut(&key) {
                while times
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= WINDOW)
                {
                    times.pop_front();
                }
                if times.len() >= limit {
                    let oldest = times[times.len() - limit];
                    let until = WINDOW.saturating_sub(now.duration_since(oldest));
                    wait = Some(wait.map_or(until, |w: Duration| w.max(until)));
                }
            }
        }
        wait
    }

    pub fn failed(&self, account: &str, address: Option<&str>, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
        }
        for (key, limit) in keys(account, address) {
            let times = failures.entry(key).or_default();
            times.push_back(now);
            while times.len() > limit {
                times.pop_front();
            }
        }
    }

    pub fn succeeded(&self, account: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&format!("account:{account}"));
    }
}

fn keys(account: &str, address: Option<&str>) -> Vec<(String, usize)> {
    let mut keys = vec![(format!("account:{account}"), PER_ACCOUNT)];
    if let Some(address) = address {
        keys.push((format!("address:{address}"), PER_ADDRESS));
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_held_after_five_failures_until_the_first_leaves_the_window() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for i in 0..PER_ACCOUNT {
            assert_eq!(throttle.check("ana", None, start), None, "attempt {i}");
            throttle.failed("ana", None, start + Duration::from_secs(i as u64));
        }
        let held = throttle.check("ana", None, start + Duration::from_secs(10));
        assert_eq!(held, Some(WINDOW - Duration::from_secs(10)));
        assert_eq!(
            throttle.check("bo", None, start),
            None,
            "other accounts are not held"
        );
        assert_eq!(throttle.check("ana", None, start + WINDOW), None);
    }

    #[test]
    fn one_address_trying_many_accounts_is_held() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..PER_ADDRESS {
            throttle.failed(&format!("user{i}"), Some("10.0.0.1"), now);
        }
        assert!(
            throttle
                .check("someone-else", Some("10.0.0.1"), now)
                .is_some()
        );
        assert!(
            throttle
                .check("someone-else", Some("10.0.0.2"), now)
                .is_none()
        );
    }

    #[test]
    fn a_success_clears_the_accounts_failures() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..PER_ACCOUNT - 1 {
            throttle.failed("ana", None, now);
        }
        throttle.succeeded("ana");
        throttle.failed("ana", None, now);
        assert_eq!(throttle.check("ana", None, now), None);
    }
}
