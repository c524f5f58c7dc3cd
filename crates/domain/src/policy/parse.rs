//! The JSON shape of a profile and its validation ("parse, don't validate": the raw shape exists
//! only here; the rest of the engine sees a [`PolicyProfile`] that is already known to be sound).

use std::collections::HashSet;
use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use super::date::ProfileDate;
use super::profile::{
    AllowedTag, Anchor, FrequencyCap, HumanAgentRule, MarketingRules, MaxAge, MessengerRules,
    PlatformRules, PolicyProfile, RefusedTag, UtilityRule,
};

/// Why a profile was not loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("profile JSON is malformed: {0}")]
    Json(String),
    #[error("profile id {0:?} must be 1 to 64 characters of a-z, 0-9 and '-'")]
    InvalidId(String),
    #[error("unknown platform {0:?}: expected \"messenger\" or \"telegram\"")]
    UnknownPlatform(String),
    #[error("{field} {value:?} is not a calendar date written YYYY-MM-DD")]
    InvalidDate { field: String, value: String },
    #[error("{0} must be positive")]
    NotPositive(&'static str),
    #[error("a messenger profile needs a \"window\"")]
    MissingWindow,
    #[error("\"{field}\" does not apply to {platform} profiles")]
    NotForPlatform {
        field: &'static str,
        platform: &'static str,
    },
    #[error("tag name {0:?} must be 1 to 64 characters of A-Z, 0-9 and '_'")]
    InvalidTagName(String),
    #[error("tag {0} is listed more than once")]
    DuplicateTag(String),
    #[error("tag {0} is both allowed and refused")]
    TagAllowedAndRefused(String),
    #[error("tag {0}: \"counts_from\" needs \"max_age_hours\"")]
    AnchorWithoutMaxAge(String),
    #[error(
        "tag {tag} is refused since {since}, after the profile's effective date {effective_from}: \
         a profile states the rules in force from that date on"
    )]
    RefusalAfterEffectiveDate {
        tag: String,
        since: String,
        effective_from: String,
    },
    #[error("refused tag {0} needs a reason")]
    MissingReason(String),
}

/// The JSON form. Unknown fields are errors: a misspelt rule silently ignored would be a rule not
/// enforced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProfile {
    id: String,
    version: u32,
    platform: String,
    effective_from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<RawWindow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    human_agent: Option<RawHumanAgent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<RawAllowedTag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    refused_tags: Vec<RawRefusedTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    utility_templates: Option<RawUtility>,
    /// Absent means the strict default (both refusals on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    marketing: Option<RawMarketing>,
    /// Absent means [`FrequencyCap::DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    frequency_cap: Option<RawCap>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    hours: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHumanAgent {
    tag: String,
    max_days: u32,
    counts_from: Anchor,
    requires_permission: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllowedTag {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_age_hours: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    counts_from: Option<Anchor>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRefusedTag {
    name: String,
    since: String,
    reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUtility {
    outside_window: bool,
    requires_permission: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarketing {
    refuse_promotional_to_unsubscribed: bool,
    refuse_bulk_to_unsubscribed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCap {
    max_messages: u32,
    per_hours: u32,
}

impl PolicyProfile {
    /// Loads and validates a profile.
    pub fn from_json(json: &str) -> Result<PolicyProfile, ProfileError> {
        let raw: RawProfile =
            serde_json::from_str(json).map_err(|e| ProfileError::Json(e.to_string()))?;
        PolicyProfile::try_from(raw)
    }

    /// The profile in the JSON shape it was loaded from.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a profile always serialises")
    }
}

fn positive(value: u32, field: &'static str) -> Result<NonZeroU32, ProfileError> {
    NonZeroU32::new(value).ok_or(ProfileError::NotPositive(field))
}

fn date(field: &str, value: &str) -> Result<ProfileDate, ProfileError> {
    ProfileDate::parse(value).ok_or_else(|| ProfileError::InvalidDate {
        field: field.to_owned(),
        value: value.to_owned(),
    })
}

fn tag_name(name: &str) -> Result<String, ProfileError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(name.to_owned())
    } else {
        Err(ProfileError::InvalidTagName(name.to_owned()))
    }
}

fn profile_id(id: &str) -> Result<String, ProfileError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(id.to_owned())
    } else {
        Err(ProfileError::InvalidId(id.to_owned()))
    }
}

impl TryFrom<RawProfile> for PolicyProfile {
    type Error = ProfileError;

    fn try_from(raw: RawProfile) -> Result<Self, Self::Error> {
        let id = profile_id(&raw.id)?;
        let version = positive(raw.version, "version")?;
        let effective_from = date("effective_from", &raw.effective_from)?;
        let rules = match raw.platform.as_str() {
            "messenger" => PlatformRules::Messenger(messenger_rules(&raw, effective_from)?),
            "telegram" => {
                // Telegram has no window, tags or templates (B7); a profile claiming one would be
                // describing rules nothing enforces.
                let platform = "telegram";
                let present = [
                    ("window", raw.window.is_some()),
                    ("human_agent", raw.human_agent.is_some()),
                    ("tags", !raw.tags.is_empty()),
                    ("refused_tags", !raw.refused_tags.is_empty()),
                    ("utility_templates", raw.utility_templates.is_some()),
                ];
                if let Some((field, _)) = present.into_iter().find(|(_, p)| *p) {
                    return Err(ProfileError::NotForPlatform { field, platform });
                }
                PlatformRules::Telegram
            }
            other => return Err(ProfileError::UnknownPlatform(other.to_owned())),
        };
        let marketing = raw.marketing.as_ref().map_or(
            MarketingRules {
                refuse_promotional_to_unsubscribed: true,
                refuse_bulk_to_unsubscribed: true,
            },
            |m| MarketingRules {
                refuse_promotional_to_unsubscribed: m.refuse_promotional_to_unsubscribed,
                refuse_bulk_to_unsubscribed: m.refuse_bulk_to_unsubscribed,
            },
        );
        let frequency_cap = match &raw.frequency_cap {
            None => FrequencyCap::DEFAULT,
            Some(c) => FrequencyCap {
                max_messages: positive(c.max_messages, "frequency_cap.max_messages")?,
                per_hours: positive(c.per_hours, "frequency_cap.per_hours")?,
            },
        };
        Ok(PolicyProfile {
            id,
            version,
            effective_from,
            notes: raw.notes,
            rules,
            marketing,
            frequency_cap,
        })
    }
}

fn messenger_rules(
    raw: &RawProfile,
    effective_from: ProfileDate,
) -> Result<MessengerRules, ProfileError> {
    let window = raw.window.as_ref().ok_or(ProfileError::MissingWindow)?;
    let window_hours = positive(window.hours, "window.hours")?;

    // Every tag name the profile mentions, to catch one listed twice (in any two places).
    let mut allowed_names = HashSet::new();

    let human_agent = match &raw.human_agent {
        None => None,
        Some(h) => {
            let tag = tag_name(&h.tag)?;
            allowed_names.insert(tag.clone());
            Some(HumanAgentRule {
                tag,
                max_days: positive(h.max_days, "human_agent.max_days")?,
                counts_from: h.counts_from,
                requires_permission: h.requires_permission,
            })
        }
    };

    let mut tags = Vec::with_capacity(raw.tags.len());
    for t in &raw.tags {
        let name = tag_name(&t.name)?;
        if !allowed_names.insert(name.clone()) {
            return Err(ProfileError::DuplicateTag(name));
        }
        let max_age = match (t.max_age_hours, t.counts_from) {
            (None, None) => None,
            (None, Some(_)) => return Err(ProfileError::AnchorWithoutMaxAge(name)),
            (Some(hours), anchor) => Some(MaxAge {
                hours: positive(hours, "tags[].max_age_hours")?,
                // Message tags' ages run from the person's last action unless stated otherwise.
                counts_from: anchor.unwrap_or(Anchor::LastWindowAction),
            }),
        };
        tags.push(AllowedTag { name, max_age });
    }

    let mut refused_names = HashSet::new();
    let mut refused_tags = Vec::with_capacity(raw.refused_tags.len());
    for r in &raw.refused_tags {
        let name = tag_name(&r.name)?;
        if allowed_names.contains(&name) {
            return Err(ProfileError::TagAllowedAndRefused(name));
        }
        if !refused_names.insert(name.clone()) {
            return Err(ProfileError::DuplicateTag(name));
        }
        let since = date("refused_tags[].since", &r.since)?;
        if since > effective_from {
            // The engine does not switch rules by date inside a profile; a later refusal date
            // means a new profile (with that effective date) is due instead.
            return Err(ProfileError::RefusalAfterEffectiveDate {
                tag: name,
                since: since.to_string(),
                effective_from: effective_from.to_string(),
            });
        }
        if r.reason.trim().is_empty() {
            return Err(ProfileError::MissingReason(name));
        }
        refused_tags.push(RefusedTag {
            name,
            since,
            reason: r.reason.clone(),
        });
    }

    let utility = raw.utility_templates.as_ref().map(|u| UtilityRule {
        outside_window: u.outside_window,
        requires_permission: u.requires_permission,
    });

    Ok(MessengerRules {
        window_hours,
        human_agent,
        tags,
        refused_tags,
        utility,
    })
}

impl From<PolicyProfile> for RawProfile {
    fn from(p: PolicyProfile) -> Self {
        let (platform, m) = match p.rules {
            PlatformRules::Messenger(m) => ("messenger", Some(m)),
            PlatformRules::Telegram => ("telegram", None),
        };
        let cap = p.frequency_cap;
        RawProfile {
            id: p.id,
            version: p.version.get(),
            platform: platform.to_owned(),
            effective_from: p.effective_from.to_string(),
            notes: p.notes,
            window: m.as_ref().map(|m| RawWindow {
                hours: m.window_hours.get(),
            }),
            human_agent: m
                .as_ref()
                .and_then(|m| m.human_agent.as_ref())
                .map(|h| RawHumanAgent {
                    tag: h.tag.clone(),
                    max_days: h.max_days.get(),
                    counts_from: h.counts_from,
                    requires_permission: h.requires_permission,
                }),
            tags: m
                .as_ref()
                .map(|m| {
                    m.tags
                        .iter()
                        .map(|t| RawAllowedTag {
                            name: t.name.clone(),
                            max_age_hours: t.max_age.map(|a| a.hours.get()),
                            counts_from: t.max_age.map(|a| a.counts_from),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            refused_tags: m
                .as_ref()
                .map(|m| {
                    m.refused_tags
                        .iter()
                        .map(|r| RawRefusedTag {
                            name: r.name.clone(),
                            since: r.since.to_string(),
                            reason: r.reason.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            utility_templates: m.as_ref().and_then(|m| m.utility).map(|u| RawUtility {
                outside_window: u.outside_window,
                requires_permission: u.requires_permission,
            }),
            marketing: Some(RawMarketing {
                refuse_promotional_to_unsubscribed: p.marketing.refuse_promotional_to_unsubscribed,
                refuse_bulk_to_unsubscribed: p.marketing.refuse_bulk_to_unsubscribed,
            }),
            frequency_cap: Some(RawCap {
                max_messages: cap.max_messages.get(),
                per_hours: cap.per_hours.get(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"id":"x-1","version":1,"platform":"messenger",
        "effective_from":"2026-01-01","window":{"hours":24}}"#;

    fn with(extra: &str) -> String {
        format!(
            r#"{{"id":"x-1","version":1,"platform":"messenger","effective_from":"2026-01-01",
            "window":{{"hours":24}}{extra}}}"#
        )
    }

    #[test]
    fn minimal_profile_gets_strict_defaults() {
        let p = PolicyProfile::from_json(MINIMAL).unwrap();
        assert_eq!(p.frequency_cap(), FrequencyCap::DEFAULT);
        assert!(p.marketing().refuse_promotional_to_unsubscribed());
        assert!(p.marketing().refuse_bulk_to_unsubscribed());
        let m = p.messenger().unwrap();
        assert!(m.human_agent().is_none() && m.utility().is_none() && m.tags().is_empty());
    }

    #[test]
    fn rejects_unsound_profiles() {
        let cases: Vec<(String, ProfileError)> = vec![
            (
                MINIMAL.replace("messenger", "whatsapp"),
                ProfileError::UnknownPlatform("whatsapp".into()),
            ),
            (
                MINIMAL.replace("\"hours\":24", "\"hours\":0"),
                ProfileError::NotPositive("window.hours"),
            ),
            (
                MINIMAL.replace("\"version\":1", "\"version\":0"),
                ProfileError::NotPositive("version"),
            ),
            (
                MINIMAL.replace(",\"window\":{\"hours\":24}", ""),
                ProfileError::MissingWindow,
            ),
            (
                MINIMAL.replace("x-1", "X 1"),
                ProfileError::InvalidId("X 1".into()),
            ),
            (
                MINIMAL.replace("2026-01-01", "2026-02-30"),
                ProfileError::InvalidDate {
                    field: "effective_from".into(),
                    value: "2026-02-30".into(),
                },
            ),
            (
                with(
                    r#","tags":[{"name":"ACCOUNT_UPDATE"}],
                    "refused_tags":[{"name":"ACCOUNT_UPDATE","since":"2020-03-04","reason":"r"}]"#,
                ),
                ProfileError::TagAllowedAndRefused("ACCOUNT_UPDATE".into()),
            ),
            (
                with(
                    r#","human_agent":{"tag":"HUMAN_AGENT","max_days":7,
                    "counts_from":"last_message","requires_permission":true},
                    "tags":[{"name":"HUMAN_AGENT"}]"#,
                ),
                ProfileError::DuplicateTag("HUMAN_AGENT".into()),
            ),
            (
                with(
                    r#","refused_tags":[{"name":"A","since":"2020-01-01","reason":"r"},
                    {"name":"A","since":"2020-01-01","reason":"r"}]"#,
                ),
                ProfileError::DuplicateTag("A".into()),
            ),
            (
                with(r#","refused_tags":[{"name":"A","since":"2027-01-01","reason":"r"}]"#),
                ProfileError::RefusalAfterEffectiveDate {
                    tag: "A".into(),
                    since: "2027-01-01".into(),
                    effective_from: "2026-01-01".into(),
                },
            ),
            (
                with(r#","tags":[{"name":"human_agent"}]"#),
                ProfileError::InvalidTagName("human_agent".into()),
            ),
            (
                with(r#","tags":[{"name":"X","counts_from":"last_message"}]"#),
                ProfileError::AnchorWithoutMaxAge("X".into()),
            ),
            (
                with(r#","frequency_cap":{"max_messages":0,"per_hours":24}"#),
                ProfileError::NotPositive("frequency_cap.max_messages"),
            ),
            (
                r#"{"id":"t","version":1,"platform":"telegram","effective_from":"2026-01-01",
                "window":{"hours":24}}"#
                    .to_owned(),
                ProfileError::NotForPlatform {
                    field: "window",
                    platform: "telegram",
                },
            ),
        ];
        for (json, expected) in cases {
            assert_eq!(PolicyProfile::from_json(&json), Err(expected), "{json}");
        }
    }

    #[test]
    fn misspelt_fields_are_errors_not_ignored() {
        let err = PolicyProfile::from_json(&with(r#","frequency_capp":{}"#)).unwrap_err();
        assert!(matches!(err, ProfileError::Json(ref m) if m.contains("frequency_capp")));
    }
}
