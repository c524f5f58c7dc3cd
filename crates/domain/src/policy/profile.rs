//! A policy profile as the engine reads it: validated once when loaded, then only interpreted.
//!
//! Fields are private so the invariants checked by [`PolicyProfile::from_json`] (no tag both
//! allowed and refused, positive periods, platform-appropriate sections, …) hold for every value.

use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use super::date::ProfileDate;
use crate::channel::ChannelKind;
use crate::time::Millis;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A versioned set of messaging rules for one platform, e.g. `meta-2026` v1.
///
/// Serialises to, and deserialises (with validation) from, the JSON shape of the files in
/// `crates/domain/policy-profiles/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "super::parse::RawProfile",
    into = "super::parse::RawProfile"
)]
pub struct PolicyProfile {
    pub(super) id: String,
    pub(super) version: NonZeroU32,
    pub(super) effective_from: ProfileDate,
    pub(super) notes: Option<String>,
    pub(super) rules: PlatformRules,
    pub(super) marketing: MarketingRules,
    pub(super) frequency_cap: FrequencyCap,
}

/// What differs between platforms. Telegram has no window, tags or templates (B7), so its variant
/// carries nothing: a Telegram profile cannot describe a window by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlatformRules {
    Messenger(MessengerRules),
    Telegram,
}

/// Messenger's window and what may still be sent once it has closed (A8, A9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessengerRules {
    pub(super) window_hours: NonZeroU32,
    pub(super) human_agent: Option<HumanAgentRule>,
    pub(super) tags: Vec<AllowedTag>,
    pub(super) refused_tags: Vec<RefusedTag>,
    pub(super) utility: Option<UtilityRule>,
}

/// Which of the person's actions an age limit counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The person's last message (HUMAN_AGENT: "up to 7 days after the user's last message", A8).
    LastMessage,
    /// The person's last window-opening action (A9).
    LastWindowAction,
}

impl Anchor {
    pub fn describe(self) -> &'static str {
        match self {
            Anchor::LastMessage => "the person's last message",
            Anchor::LastWindowAction => "the person's last action",
        }
    }
}

/// The human-agent tag: replies written by people on the team, for a while after the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanAgentRule {
    pub(super) tag: String,
    pub(super) max_days: NonZeroU32,
    pub(super) counts_from: Anchor,
    pub(super) requires_permission: bool,
}

/// A tag that may be sent outside the window (never with promotional content).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedTag {
    pub(super) name: String,
    pub(super) max_age: Option<MaxAge>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxAge {
    pub(super) hours: NonZeroU32,
    pub(super) counts_from: Anchor,
}

/// A tag the platform rejects under this profile, with when and why, for the refusal's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedTag {
    pub(super) name: String,
    pub(super) since: ProfileDate,
    pub(super) reason: String,
}

/// Approved utility templates (`messaging_type: UTILITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtilityRule {
    pub(super) outside_window: bool,
    pub(super) requires_permission: bool,
}

/// Consent rules. (Unreachable contacts are refused by the engine itself, on every platform:
/// that is what the platform would answer, not a policy a profile could relax.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketingRules {
    pub(super) refuse_promotional_to_unsubscribed: bool,
    pub(super) refuse_bulk_to_unsubscribed: bool,
}

/// At most `max_messages` bulk-lane messages per contact in any sliding period of `per_hours`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrequencyCap {
    pub(super) max_messages: NonZeroU32,
    pub(super) per_hours: NonZeroU32,
}

impl PolicyProfile {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn version(&self) -> u32 {
        self.version.get()
    }

    pub fn platform(&self) -> ChannelKind {
        match self.rules {
            PlatformRules::Messenger(_) => ChannelKind::Messenger,
            PlatformRules::Telegram => ChannelKind::Telegram,
        }
    }

    pub fn effective_from(&self) -> ProfileDate {
        self.effective_from
    }

    pub fn notes(&self) -> Option<&str> {
        self.notes.as_deref()
    }

    pub fn rules(&self) -> &PlatformRules {
        &self.rules
    }

    pub fn messenger(&self) -> Option<&MessengerRules> {
        match &self.rules {
            PlatformRules::Messenger(m) => Some(m),
            PlatformRules::Telegram => None,
        }
    }

    /// The standard window in hours, `None` where the platform has none.
    pub fn window_hours(&self) -> Option<u32> {
        self.messenger().map(MessengerRules::window_hours)
    }

    pub fn marketing(&self) -> MarketingRules {
        self.marketing
    }

    pub fn frequency_cap(&self) -> FrequencyCap {
        self.frequency_cap
    }

    /// "meta-2026 v1": how every refusal starts.
    pub fn label(&self) -> String {
        format!("{} v{}", self.id, self.version)
    }
}

/// What a tag name means under a Messenger profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagClass<'a> {
    HumanAgent(&'a HumanAgentRule),
    Allowed(&'a AllowedTag),
    Refused(&'a RefusedTag),
    Unknown,
}

impl MessengerRules {
    pub fn window_hours(&self) -> u32 {
        self.window_hours.get()
    }

    /// Whether the standard window is open at `now`. A last action stamped after `now` (clocks of
    /// different nodes) counts as open: the action happened, so the window did open.
    pub fn window_open(&self, last_window_action_at: Option<Millis>, now: Millis) -> bool {
        last_window_action_at
            .is_some_and(|at| within(at, now, i64::from(self.window_hours.get()) * HOUR_MS))
    }

    pub fn human_agent(&self) -> Option<&HumanAgentRule> {
        self.human_agent.as_ref()
    }

    pub fn tags(&self) -> &[AllowedTag] {
        &self.tags
    }

    pub fn refused_tags(&self) -> &[RefusedTag] {
        &self.refused_tags
    }

    pub fn utility(&self) -> Option<UtilityRule> {
        self.utility
    }

    /// Names are matched exactly: they go on the wire as written, and Graph tag names are
    /// upper case.
    pub fn classify(&self, tag: &str) -> TagClass<'_> {
        if let Some(r) = self.refused_tags.iter().find(|r| r.name == tag) {
            return TagClass::Refused(r);
        }
        if let Some(ha) = self.human_agent.as_ref().filter(|ha| ha.tag == tag) {
            return TagClass::HumanAgent(ha);
        }
        match self.tags.iter().find(|t| t.name == tag) {
            Some(t) => TagClass::Allowed(t),
            None => TagClass::Unknown,
        }
    }
}

impl HumanAgentRule {
    pub fn tag(&self) -> &str {
        &self.tag
    }

    pub fn max_days(&self) -> u32 {
        self.max_days.get()
    }

    pub fn counts_from(&self) -> Anchor {
        self.counts_from
    }

    pub fn requires_permission(&self) -> bool {
        self.requires_permission
    }

    /// Whether `anchor_at` (the time `counts_from` names) is recent enough at `now`.
    pub fn in_period(&self, anchor_at: Option<Millis>, now: Millis) -> bool {
        anchor_at.is_some_and(|at| within(at, now, i64::from(self.max_days.get()) * DAY_MS))
    }
}

impl AllowedTag {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn max_age(&self) -> Option<MaxAge> {
        self.max_age
    }
}

impl MaxAge {
    pub fn hours(&self) -> u32 {
        self.hours.get()
    }

    pub fn counts_from(&self) -> Anchor {
        self.counts_from
    }

    pub fn allows(&self, anchor_at: Option<Millis>, now: Millis) -> bool {
        anchor_at.is_some_and(|at| within(at, now, i64::from(self.hours.get()) * HOUR_MS))
    }
}

impl RefusedTag {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn since(&self) -> ProfileDate {
        self.since
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl UtilityRule {
    pub fn outside_window(&self) -> bool {
        self.outside_window
    }

    pub fn requires_permission(&self) -> bool {
        self.requires_permission
    }
}

impl MarketingRules {
    pub fn refuse_promotional_to_unsubscribed(&self) -> bool {
        self.refuse_promotional_to_unsubscribed
    }

    pub fn refuse_bulk_to_unsubscribed(&self) -> bool {
        self.refuse_bulk_to_unsubscribed
    }
}

impl FrequencyCap {
    /// The default when a profile names none: one campaign message per contact per day.
    pub const DEFAULT: FrequencyCap = FrequencyCap {
        max_messages: NonZeroU32::MIN,
        per_hours: NonZeroU32::new(24).expect("24 is not zero"),
    };

    pub fn max_messages(&self) -> u32 {
        self.max_messages.get()
    }

    pub fn per_hours(&self) -> u32 {
        self.per_hours.get()
    }

    /// How many of `sends` fall in the period ending at `now`, i.e. in `(now − period, now]`.
    /// Sends stamped after `now` count too: a clock skew must not open room for one more.
    pub fn used(&self, sends: &[Millis], now: Millis) -> usize {
        let period = i64::from(self.per_hours.get()) * HOUR_MS;
        sends.iter().filter(|&&at| within(at, now, period)).count()
    }

    /// Whether one more bulk message at `now` stays within the cap.
    pub fn has_room(&self, sends: &[Millis], now: Millis) -> bool {
        self.used(sends, now) < self.max_messages.get() as usize
    }
}

/// `at` is less than `period_ms` before `now` (or after it). The bound is strict: a 24-hour
/// window opened at 10:00 is closed at 10:00 the next day.
fn within(at: Millis, now: Millis, period_ms: i64) -> bool {
    now.0.saturating_sub(at.0) < period_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_half_open() {
        let h = i64::from(24) * HOUR_MS;
        assert!(within(Millis(0), Millis(h - 1), h));
        assert!(!within(Millis(0), Millis(h), h));
        assert!(within(Millis(10), Millis(0), h));
    }

    #[test]
    fn frequency_cap_counts_a_sliding_period() {
        let cap = FrequencyCap::DEFAULT;
        let day = 24 * HOUR_MS;
        assert!(cap.has_room(&[], Millis(0)));
        assert!(!cap.has_room(&[Millis(0)], Millis(day - 1)));
        assert!(cap.has_room(&[Millis(0)], Millis(day)));
        assert!(!cap.has_room(&[Millis(day + 5)], Millis(day)));
    }
}
