//! What the linter reports.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use switchboard_domain::ChannelKind;

/// How much a finding matters to whoever is about to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something to know, nothing to fix (e.g. there is no spell check for this language).
    Info,
    /// Advice: the message can be sent, but probably should be changed.
    Warning,
    /// The platform will refuse the message as it is: sending is pointless.
    Error,
}

/// One thing the linter noticed.
///
/// `span` is a range of **byte** offsets into the linted text (always on `char` boundaries), so
/// `&text[finding.span.clone()]` is the part the finding is about. Findings about the message as a
/// whole point at the part that goes past the limit; findings that are not about the text at all
/// ([`FindingKind::DictionaryUnavailable`]) have the empty span `0..0`.
///
/// As JSON (what `POST /api/v1/lint` returns):
///
/// ```json
/// {"kind":{"type":"misspelling","word":"tommorow"},"severity":"warning",
///  "span":{"start":11,"end":19},"message":"“tommorow” may be misspelled (en_US)",
///  "suggestions":["tomorrow","Morrow","morrow"]}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub span: Range<usize>,
    /// For people; do not match on it, match on `kind`.
    pub message: String,
    /// Replacements for `span`, best first. Only misspellings have any (at most
    /// [`MAX_SUGGESTIONS`](crate::MAX_SUGGESTIONS)).
    #[serde(default)]
    pub suggestions: Vec<String>,
}

/// What a [`Finding`] is about. Serialised with a `type` tag in snake_case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FindingKind {
    /// A word the language's dictionary does not know. [`Severity::Warning`].
    Misspelling { word: String },
    /// More characters (Unicode scalar values, as the platforms count) than the channel accepts in
    /// one message: the send would fail. [`Severity::Error`].
    TooLongForPlatform {
        channel: ChannelKind,
        characters: usize,
        limit: usize,
    },
    /// Longer than about three short sentences, the etiquette for business messaging ("be brief").
    /// Advice only, see [`LONG_MESSAGE_MAX_SENTENCES`](crate::LONG_MESSAGE_MAX_SENTENCES) and
    /// [`LONG_MESSAGE_MAX_CHARS`](crate::LONG_MESSAGE_MAX_CHARS). [`Severity::Warning`].
    LongMessage { sentences: usize, characters: usize },
    /// A link in a message that is marked non-promotional (a message tag / utility message must
    /// not carry promotional content, and links are a common tell). [`Severity::Warning`].
    LinkInNonPromotional { url: String },
    /// The message was not spell-checked. `language` is the dictionary name (`it_IT`) for a
    /// supported language whose dictionary is missing or broken ([`Severity::Warning`]: an
    /// operator can install it), or the requested language as given (lower-cased) when there is
    /// no dictionary for it at all ([`Severity::Info`]).
    DictionaryUnavailable {
        language: String,
        reason: UnavailableReason,
    },
}

/// Why a message was not spell-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnavailableReason {
    /// A supported language whose `.aff`/`.dic` files are not in the dictionary directory.
    NotInstalled,
    /// The files are there but could not be read or parsed.
    LoadFailed,
    /// A language we know but have no Hunspell dictionary for (Finnish: Debian packages none).
    NoDictionary,
    /// A language (or locale string) we do not recognise.
    UnknownLanguage,
}

impl FindingKind {
    /// The `type` tag as serialised, handy for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            FindingKind::Misspelling { .. } => "misspelling",
            FindingKind::TooLongForPlatform { .. } => "too_long_for_platform",
            FindingKind::LongMessage { .. } => "long_message",
            FindingKind::LinkInNonPromotional { .. } => "link_in_non_promotional",
            FindingKind::DictionaryUnavailable { .. } => "dictionary_unavailable",
        }
    }
}
