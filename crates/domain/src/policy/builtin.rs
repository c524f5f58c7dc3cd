//! The profiles shipped with Switchboard, embedded from `crates/domain/policy-profiles/*.json` so
//! the binary needs no data files, while the rules stay data anyone can read and diff.

use std::sync::OnceLock;

use super::profile::PolicyProfile;
use crate::channel::ChannelKind;
use crate::time::Millis;

const SOURCES: &[(&str, &str)] = &[
    (
        "meta-2026",
        include_str!("../../policy-profiles/meta-2026.json"),
    ),
    (
        "meta-2020",
        include_str!("../../policy-profiles/meta-2020.json"),
    ),
    (
        "telegram-2026",
        include_str!("../../policy-profiles/telegram-2026.json"),
    ),
];

fn all() -> &'static [PolicyProfile] {
    static PROFILES: OnceLock<Vec<PolicyProfile>> = OnceLock::new();
    PROFILES.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(id, json)| {
                let p = PolicyProfile::from_json(json)
                    // The embedded files are checked by this crate's tests; a failure here is a
                    // build that shipped without running them.
                    .unwrap_or_else(|e| panic!("built-in policy profile {id} is invalid: {e}"));
                assert_eq!(p.id(), *id, "built-in profile file and id disagree");
                p
            })
            .collect()
    })
}

impl PolicyProfile {
    /// A profile shipped with Switchboard, by id.
    pub fn builtin(id: &str) -> Option<PolicyProfile> {
        all().iter().find(|p| p.id() == id).cloned()
    }

    /// The ids of the shipped profiles.
    pub fn builtin_ids() -> Vec<&'static str> {
        SOURCES.iter().map(|(id, _)| *id).collect()
    }

    /// The shipped profile in force for `platform` at `at`: the latest one whose effective date
    /// (midnight UTC) is not after `at`. `None` before the first one.
    pub fn builtin_for(platform: ChannelKind, at: Millis) -> Option<PolicyProfile> {
        all()
            .iter()
            .filter(|p| p.platform() == platform && p.effective_from().start_millis() <= at)
            .max_by_key(|p| (p.effective_from(), p.version()))
            .cloned()
    }
}
