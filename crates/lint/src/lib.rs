//! Lint before send: what to tell an agent about a message before it goes out.
//!
//! [`Linter::lint`] returns [`Finding`]s, each with a [`FindingKind`], a [`Severity`] and a byte
//! span into the text:
//!
//! - **Misspelling** (warning), with up to [`MAX_SUGGESTIONS`] suggestions, from a Hunspell
//!   dictionary read by [`spellbook`]. `en_US` is embedded (SCOWL, from Debian's
//!   `hunspell-en-us`, licence in `dict/en_US/copyright`), so English needs nothing installed.
//!   `it_IT`, `id_ID` and `ar` are read from [`LintConfig::dictionary_dir`] (Debian's
//!   `hunspell-it`, `hunspell-id`, `hunspell-ar` put them in `/usr/share/hunspell`): their
//!   licences differ, so they are not embedded. There is no Finnish Hunspell dictionary in Debian.
//!   See [`LanguageChoice::from_locale`] for how a locale picks a dictionary.
//! - **TooLongForPlatform** (error): over the channel's hard limit
//!   ([`ChannelKind::text_limit`]: Messenger 2000, Telegram 4096 characters). The platform would
//!   refuse the message.
//! - **LongMessage** (warning): past about three short sentences, the business-messaging
//!   etiquette ("keep it to two or three short sentences"): more than
//!   [`LONG_MESSAGE_MAX_SENTENCES`] sentences *or* more than [`LONG_MESSAGE_MAX_CHARS`]
//!   characters. Advice, independent of the hard limit.
//! - **LinkInNonPromotional** (warning): a URL in a message whose context says it is not
//!   promotional (message tags / utility messages must not carry promotional content).
//! - **DictionaryUnavailable** (warning when a supported dictionary is missing, info when the
//!   language has none): the text was not spell-checked. Never a panic or an error.
//!
//! # What is not spell-checked
//!
//! Words are found at Unicode word boundaries (UAX #29), which works for any script, keeps Arabic
//! diacritics with their letters, and keeps elisions and contractions whole (`l'ordine`,
//! `dell'anno`, `don't`: the Italian and English dictionaries know these forms; typographic
//! apostrophes are read as `'`). Hyphenated words are checked part by part (`orang-orang`).
//! Skipped:
//!
//! - `{{placeholders}}` (from `{{` to the next `}}`, spaces allowed; what they mean is another
//!   module's business, here they are only skipped, and counted as written towards the lengths);
//! - URLs (`scheme://…`, `www.…`, bare domains such as `messenger.com`, `t.me/name`), e-mail
//!   addresses, `@mentions`, `#hashtags`;
//! - words containing a digit (`9am`, `2x`) or anything but letters, marks and apostrophes
//!   (`file.txt`, `snake_case`);
//! - all-caps acronyms of two letters or more (`FAQ`, `NASA's`) and mixed-case names
//!   (`WhatsApp`, `iPhone`, `SMMExpert`);
//! - words in another script than the dictionary's (a Latin brand name in Arabic text).
//!
//! Every dictionary also accepts [`PLATFORM_NAMES`] and [`LintConfig::extra_words`].

//! # Cost and threads
//!
//! A [`Linter`] is `Send + Sync`; share one behind an `Arc`. Dictionaries load on first use of
//! their language (once; concurrent first callers wait for the one load) and stay loaded.
//! Checking words takes microseconds; **suggestions are the slow part** (tens of milliseconds per
//! misspelled word), so they are computed only for misspelled words, once per distinct word, for at
//! most [`LintConfig::max_suggested_words`] words per call. `lint` is CPU-bound and blocking: call
//! it from `tokio::task::spawn_blocking`, not on an async worker.
//!
//! Measured (2-core AMD EPYC, release build, spellbook 0.4.2, wall clock over a few runs, other
//! builds running): loading a dictionary takes en_US ~20 ms, it_IT ~30 ms, id_ID ~10 ms, ar
//! 60–100 ms. A ~20-word message costs, once its dictionary is loaded: clean, 0.01–0.02 ms; with 3
//! English misspellings 51–76 ms; with 2 misspellings in Italian 84–119 ms, Indonesian 32–51 ms,
//! Arabic 73–100 ms — nearly all of it suggestions. A debug build is 5–8× slower.

mod dictionaries;
mod finding;
mod language;
mod tokenize;

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use switchboard_domain::ChannelKind;
use unicode_segmentation::UnicodeSegmentation;

use crate::dictionaries::Dictionaries;
use crate::tokenize::{Region, RegionKind};

pub use crate::dictionaries::PLATFORM_NAMES;
pub use crate::finding::{Finding, FindingKind, Severity, UnavailableReason};
pub use crate::language::{LanguageChoice, SpellLanguage};

/// Where Debian's `hunspell-*` packages put their dictionaries.
pub const DEFAULT_DICTIONARY_DIR: &str = "/usr/share/hunspell";
/// Suggestions per misspelled word, at most.
pub const MAX_SUGGESTIONS: usize = 5;
/// Default for [`LintConfig::max_suggested_words`].
pub const DEFAULT_MAX_SUGGESTED_WORDS: usize = 10;
/// Words longer than this (in characters) are flagged without suggestions: suggesting for them is
/// slow and pointless (they are rarely words).
pub const MAX_SUGGESTED_WORD_CHARS: usize = 40;
/// [`FindingKind::LongMessage`] when a message has more sentences than this (UAX #29 sentence
/// boundaries, counting only sentences with a letter in them, so a line break also ends one)…
pub const LONG_MESSAGE_MAX_SENTENCES: usize = 3;
/// …or more characters than this (Unicode scalar values, leading/trailing whitespace excluded):
/// three short sentences of about 90 characters.
pub const LONG_MESSAGE_MAX_CHARS: usize = 280;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintConfig {
    /// Where `it_IT.{aff,dic}`, `id_ID.{aff,dic}` and `ar.{aff,dic}` are looked for.
    /// Default [`DEFAULT_DICTIONARY_DIR`]. English never needs it.
    pub dictionary_dir: PathBuf,
    /// How many distinct misspelled words per [`Linter::lint`] call get suggestions; the rest are
    /// still flagged, with none. Bounds the time of one call (text in the wrong language would
    /// otherwise cost tens of milliseconds per word). Default [`DEFAULT_MAX_SUGGESTED_WORDS`].
    pub max_suggested_words: usize,
    /// Words every dictionary accepts besides [`PLATFORM_NAMES`]: the business's own brand and
    /// product names. Case matters as in Hunspell: `Kopiku` accepts `Kopiku` and `KOPIKU`, not
    /// `kopiku`. Default empty.
    pub extra_words: Vec<String>,
}

impl Default for LintConfig {
    fn default() -> Self {
        LintConfig {
            dictionary_dir: PathBuf::from(DEFAULT_DICTIONARY_DIR),
            max_suggested_words: DEFAULT_MAX_SUGGESTED_WORDS,
            extra_words: Vec::new(),
        }
    }
}

/// What the linter needs to know about the message besides its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintContext {
    /// A locale (`"it"`, `"en-GB"`, `"ar_SA"`); `None` or blank: no spell check, no finding.
    #[serde(default)]
    pub language: Option<String>,
    pub channel: ChannelKind,
    /// Whether the message may be promotional. `false` (a message tag, a utility message) makes
    /// links a warning.
    #[serde(default)]
    pub promotional: bool,
}

/// Lints messages. Cheap to share (`Arc<Linter>`), see the crate docs on cost.
#[derive(Debug)]
pub struct Linter {
    max_suggested_words: usize,
    dictionaries: Dictionaries,
}

impl Linter {
    /// Loads nothing yet: each dictionary is loaded on the first message in its language.
    pub fn new(config: LintConfig) -> Self {
        Linter {
            max_suggested_words: config.max_suggested_words,
            dictionaries: Dictionaries::new(config.dictionary_dir, config.extra_words),
        }
    }

    pub fn config(&self) -> LintConfig {
        LintConfig {
            dictionary_dir: self.dictionaries.dir().to_owned(),
            max_suggested_words: self.max_suggested_words,
            extra_words: self.dictionaries.extra_words().to_vec(),
        }
    }

    /// Loads a dictionary now (e.g. at start-up, in `spawn_blocking`) rather than on the first
    /// message that needs it. `Err` is the finding `lint` would report for it.
    pub fn preload(&self, language: SpellLanguage) -> Result<(), Finding> {
        match self.dictionaries.get(language) {
            Ok(_) => Ok(()),
            Err(e) => Err(unavailable_installed(language, e)),
        }
    }

    /// The languages whose dictionaries are loaded (not those that failed).
    pub fn loaded_languages(&self) -> Vec<SpellLanguage> {
        self.dictionaries.loaded()
    }

    /// Everything worth telling about `text` before it is sent in `ctx`.
    ///
    /// Message-level findings come first (too long for the platform, long message, dictionary
    /// unavailable), then links and misspellings in text order. Blocking and CPU-bound: see the
    /// crate docs.
    pub fn lint(&self, text: &str, ctx: &LintContext) -> Vec<Finding> {
        let mut message_level = Vec::new();
        message_level.extend(too_long_for_platform(text, ctx.channel));
        let regions = tokenize::regions(text);
        message_level.extend(long_message(text, &regions));
        let mut spans = Vec::new();

        let choice = ctx
            .language
            .as_deref()
            .map_or(LanguageChoice::Unspecified, LanguageChoice::from_locale);
        match choice {
            LanguageChoice::Unspecified => {}
            LanguageChoice::Spell(lang) => match self.dictionaries.get(lang) {
                Ok(dict) => self.spell(text, &regions, lang, dict, &mut spans),
                Err(e) => message_level.push(unavailable_installed(lang, e)),
            },
            LanguageChoice::NoDictionary(language) => message_level.push(Finding {
                message: format!(
                    "Not spell-checked: there is no Hunspell dictionary for \"{language}\" \
                     (Debian packages no Finnish one; Finnish spell checking uses Voikko)"
                ),
                kind: FindingKind::DictionaryUnavailable {
                    language,
                    reason: UnavailableReason::NoDictionary,
                },
                severity: Severity::Info,
                span: 0..0,
                suggestions: Vec::new(),
            }),
            LanguageChoice::Unknown(language) => message_level.push(Finding {
                message: format!(
                    "Not spell-checked: unknown language \"{language}\" \
                     (spell check knows en, it, id and ar)"
                ),
                kind: FindingKind::DictionaryUnavailable {
                    language,
                    reason: UnavailableReason::UnknownLanguage,
                },
                severity: Severity::Info,
                span: 0..0,
                suggestions: Vec::new(),
            }),
        }

        if !ctx.promotional {
            spans.extend(links(text, &regions));
        }
        spans.sort_by_key(|f| (f.span.start, f.span.end));
        message_level.extend(spans);
        message_level
    }

    fn spell(
        &self,
        text: &str,
        regions: &[Region],
        lang: SpellLanguage,
        dict: &spellbook::Dictionary,
        out: &mut Vec<Finding>,
    ) {
        let mut suggested: HashMap<String, Vec<String>> = HashMap::new();
        let mut buf = Vec::new();
        for word in tokenize::words(text, regions, lang.script()) {
            let checked = tokenize::normalize_for_dictionary(word.text);
            if dict.check(&checked) {
                continue;
            }
            let suggestions = match suggested.get(checked.as_ref()) {
                Some(s) => s.clone(),
                None if suggested.len() < self.max_suggested_words
                    && checked.chars().count() <= MAX_SUGGESTED_WORD_CHARS =>
                {
                    dict.suggest(&checked, &mut buf);
                    let mut s: Vec<String> = Vec::with_capacity(MAX_SUGGESTIONS);
                    for cand in buf.drain(..) {
                        if s.len() < MAX_SUGGESTIONS && cand != checked && !s.contains(&cand) {
                            s.push(cand);
                        }
                    }
                    suggested.insert(checked.clone().into_owned(), s.clone());
                    s
                }
                None => Vec::new(),
            };
            out.push(Finding {
                kind: FindingKind::Misspelling {
                    word: word.text.to_owned(),
                },
                severity: Severity::Warning,
                span: word.range,
                message: format!(
                    "“{}” may be misspelled ({})",
                    word.text,
                    lang.dictionary_name()
                ),
                suggestions,
            });
        }
    }
}

fn unavailable_installed(lang: SpellLanguage, e: &dictionaries::LoadError) -> Finding {
    Finding {
        kind: FindingKind::DictionaryUnavailable {
            language: lang.dictionary_name().to_owned(),
            reason: e.reason,
        },
        severity: Severity::Warning,
        span: 0..0,
        message: format!("Not spell-checked: {}", e.detail),
        suggestions: Vec::new(),
    }
}

/// Byte offset of the `n`-th character (0-based) of `text`, if it has that many.
fn char_offset(text: &str, n: usize) -> Option<usize> {
    text.char_indices().nth(n).map(|(i, _)| i)
}

fn too_long_for_platform(text: &str, channel: ChannelKind) -> Option<Finding> {
    let limit = channel.text_limit();
    let overflow = char_offset(text, limit)?;
    let characters = text.chars().count();
    Some(Finding {
        kind: FindingKind::TooLongForPlatform {
            channel,
            characters,
            limit,
        },
        severity: Severity::Error,
        span: overflow..text.len(),
        message: format!(
            "{characters} characters: {} accepts at most {limit} in one message",
            channel.as_str()
        ),
        suggestions: Vec::new(),
    })
}

/// The span starts where the advice is exceeded: at the fourth sentence or at the character past
/// [`LONG_MESSAGE_MAX_CHARS`], whichever comes first. URLs, e-mail addresses, placeholders etc.
/// are masked before looking for sentence ends (a `?` in a URL's query does not end a sentence).
fn long_message(text: &str, regions: &[Region]) -> Option<Finding> {
    let lead = text.len() - text.trim_start().len();
    let trimmed = text.trim();
    let characters = trimmed.chars().count();
    let masked = tokenize::mask(text, regions);
    let sentence_starts: Vec<usize> = masked
        .split_sentence_bound_indices()
        .filter(|(_, s)| s.chars().any(char::is_alphabetic))
        .map(|(i, _)| i)
        .collect();
    let sentences = sentence_starts.len();

    let mut start = None;
    if sentences > LONG_MESSAGE_MAX_SENTENCES {
        start = Some(sentence_starts[LONG_MESSAGE_MAX_SENTENCES]);
    }
    if let Some(i) = char_offset(trimmed, LONG_MESSAGE_MAX_CHARS) {
        start = Some(start.map_or(lead + i, |s: usize| s.min(lead + i)));
    }
    let start = start?;
    Some(Finding {
        kind: FindingKind::LongMessage {
            sentences,
            characters,
        },
        severity: Severity::Warning,
        span: start..lead + trimmed.len(),
        message: format!(
            "Long message ({sentences} sentences, {characters} characters): keep it to about \
             {LONG_MESSAGE_MAX_SENTENCES} short sentences (at most {LONG_MESSAGE_MAX_CHARS} \
             characters)"
        ),
        suggestions: Vec::new(),
    })
}

fn links<'a>(text: &'a str, regions: &'a [Region]) -> impl Iterator<Item = Finding> + 'a {
    regions
        .iter()
        .filter(|r| r.kind == RegionKind::Url)
        .map(|r| {
            let url = &text[r.range.clone()];
            Finding {
                kind: FindingKind::LinkInNonPromotional {
                    url: url.to_owned(),
                },
                severity: Severity::Warning,
                span: Range::clone(&r.range),
                message: format!(
                    "Link in a non-promotional message: tagged and utility messages must not \
                     carry promotional content, and links often are ({url})"
                ),
                suggestions: Vec::new(),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linter_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Linter>();
    }
}
