//! The messaging policy engine: may this message be queued, and how must it be sent?
//!
//! Policy is data. A [`PolicyProfile`] (`meta-2026` v1, `telegram-2026` v1, …) is loaded from
//! JSON and states the platform's rules as numbers and names: the standard window, the human-agent
//! tag and its period, the tags still allowed outside the window and those refused (with date and
//! reason), utility templates, consent rules and a bulk frequency cap. [`decide`] interprets a
//! profile; shipping next year's rules is a new JSON file, not new code. Refusals name a stable
//! [`RuleId`] and the profile they came from ("meta-2026 v1: …"), so every refusal can be
//! explained and counted.
//!
//! Sources: protocols.md A7 (messaging types), A8 (tags), A9 (window), A10 (marketing), B6/B7
//! (Telegram has no window).

mod builtin;
mod date;
mod decide;
mod intent;
mod parse;
mod profile;
mod rules;

pub use date::ProfileDate;
pub use decide::{WindowState, decide, window_state};
pub use intent::{ChannelFacts, ContactFacts, Lane, SendAs, SendIntent};
pub use parse::ProfileError;
pub use profile::{
    AllowedTag, Anchor, FrequencyCap, HumanAgentRule, MarketingRules, MaxAge, MessengerRules,
    PlatformRules, PolicyProfile, RefusedTag, TagClass, UtilityRule,
};
pub use rules::{MessagingType, PolicyDecision, RuleId};
