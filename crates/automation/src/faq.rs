//! Frequently asked questions: question → answer pairs, offered as Messenger ice breakers and
//! Telegram commands, and recognised in free text by plain, explainable keyword matching.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchboard_domain::OutgoingMessage;

use crate::FieldError;
use crate::config::{check_message, is_id};
use crate::localized::{Localized, language_of, normalise_locale};
use crate::text::{contains_sequence, is_stop_word_anywhere, tokens};

/// Messenger shows at most four ice breakers.
pub const MAX_OFFERED: usize = 4;
/// Messenger ice-breaker question length.
pub const ICE_BREAKER_QUESTION_MAX: usize = 80;
/// Telegram bot command description length.
pub const COMMAND_DESCRIPTION_MIN: usize = 3;
pub const COMMAND_DESCRIPTION_MAX: usize = 256;
/// Postback payload of an FAQ ice breaker: `FAQ:<id>`.
pub const PAYLOAD_PREFIX: &str = "FAQ:";
/// The least token-overlap score (see [`Faq::match_text`]) that counts as a match.
pub const MIN_OVERLAP: f32 = 0.5;
/// Ids that would collide with commands Switchboard handles itself.
const RESERVED_IDS: [&str; 1] = ["start"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaqEntry {
    /// Stable id: `[a-z0-9_]{1,32}`; also the Telegram command (`/id`) and the Messenger
    /// ice-breaker payload `FAQ:<id>`.
    pub id: String,
    /// The question as shown (Messenger ice breaker ≤ 80 characters when offered; Telegram
    /// command description 3–256 characters), per locale.
    pub question: Localized<String>,
    /// Other ways people ask, per locale: keywords or phrases. The question itself counts too.
    #[serde(default, skip_serializing_if = "no_phrasings")]
    pub phrasings: Localized<Vec<String>>,
    pub answer: Localized<OutgoingMessage>,
    /// Offered as a Messenger ice breaker (≤ 4 per channel) and a Telegram command.
    #[serde(default)]
    pub offer: bool,
}

fn no_phrasings(p: &Localized<Vec<String>>) -> bool {
    p.default.is_empty() && p.locales.is_empty()
}

impl FaqEntry {
    /// The ice-breaker / postback payload that answers this entry: `FAQ:<id>`.
    pub fn payload(&self) -> String {
        format!("{PAYLOAD_PREFIX}{}", self.id)
    }

    /// The Telegram command that answers this entry: `/<id>`.
    pub fn command(&self) -> String {
        format!("/{}", self.id)
    }

    /// The question and phrasings matched for a contact's language: the default variants plus
    /// those of that language; every variant when the language is unknown.
    fn phrases<'a>(&'a self, language: Option<&'a str>) -> impl Iterator<Item = &'a str> {
        let questions = for_language(&self.question, language).map(String::as_str);
        let phrasings = for_language(&self.phrasings, language)
            .flat_map(|list| list.iter().map(String::as_str));
        questions.chain(phrasings)
    }
}

fn for_language<'a, T>(
    localized: &'a Localized<T>,
    language: Option<&'a str>,
) -> impl Iterator<Item = &'a T> {
    localized
        .variants()
        .filter(move |(key, _)| match language {
            None => true,
            Some(language) => *key == "default" || language_of(&normalise_locale(key)) == language,
        })
        .map(|(_, v)| v)
}

/// A channel's FAQ: a list of entries, in priority order (an earlier entry wins a tie).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Faq {
    pub entries: Vec<FaqEntry>,
}

/// An entry matched from free text, with how strongly (see [`Faq::match_text`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaqMatch<'a> {
    pub entry: &'a FaqEntry,
    /// 1.0 for a whole-phrase hit; below 1.0 (at least [`MIN_OVERLAP`] × 0.9) for token overlap.
    pub score: f32,
}

/// How well one phrase matches, compared score first, then the number of meaningful words
/// matched, then the phrase length (the more specific phrase wins).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Strength {
    score: f32,
    words: usize,
    length: usize,
}

impl Strength {
    fn cmp(&self, other: &Strength) -> Ordering {
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then(self.words.cmp(&other.words))
            .then(self.length.cmp(&other.length))
    }
}

impl Faq {
    pub fn new(entries: Vec<FaqEntry>) -> Self {
        Faq { entries }
    }

    /// The entry with this id.
    pub fn entry(&self, id: &str) -> Option<&FaqEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The entries offered as Messenger ice breakers and Telegram commands, in order.
    pub fn offered(&self) -> impl Iterator<Item = &FaqEntry> {
        self.entries.iter().filter(|e| e.offer)
    }

    /// Every mistake, with paths relative to the FAQ list (`[2].answer.locales.it.cards[0].title`;
    /// the channel configuration puts them under `faq`):
    /// - ids valid (`[a-z0-9_]{1,32}`, not `start`) and unique;
    /// - every question variant 3–256 characters (Telegram command description), and at most 80
    ///   when offered (Messenger ice breaker);
    /// - at most 4 entries offered (the 5th and later are reported on their `offer`);
    /// - every phrasing has at least one word that is not a stop word (one that never counts in
    ///   matching, see [`crate::text::is_stop_word`]), so that it can match at all;
    /// - every answer variant fits both Messenger and Telegram.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
        let mut offered = 0;
        for (i, entry) in self.entries.iter().enumerate() {
            let at = format!("[{i}]");
            if !is_id(&entry.id) {
                errors.push(FieldError::new(
                    format!("{at}.id"),
                    "must be 1–32 characters of a–z, 0–9 and _ (it is also the Telegram command)",
                ));
            } else if RESERVED_IDS.contains(&entry.id.as_str()) {
                errors.push(FieldError::new(
                    format!("{at}.id"),
                    format!(
                        "/{} is handled by Switchboard itself; choose another id",
                        entry.id
                    ),
                ));
            }
            if let Some(first) = ids.get(entry.id.as_str()) {
                errors.push(FieldError::new(
                    format!("{at}.id"),
                    format!(
                        "duplicate FAQ id \"{}\", already used by entry [{first}]",
                        entry.id
                    ),
                ));
            } else {
                ids.insert(&entry.id, i);
            }
            if entry.offer {
                offered += 1;
                if offered > MAX_OFFERED {
                    errors.push(FieldError::new(
                        format!("{at}.offer"),
                        format!(
                            "Messenger shows at most {MAX_OFFERED} ice breakers; this is offered entry number {offered}"
                        ),
                    ));
                }
            }
            for (key, question) in entry.question.variants() {
                let path = format!("{at}.question.{}", Localized::<()>::path_of(key));
                let n = question.trim().chars().count();
                if n == 0 {
                    errors.push(FieldError::new(path, "must not be empty"));
                } else if !(COMMAND_DESCRIPTION_MIN..=COMMAND_DESCRIPTION_MAX).contains(&n) {
                    errors.push(FieldError::new(
                        path,
                        format!(
                            "is {n} characters; a Telegram command description is {COMMAND_DESCRIPTION_MIN}–{COMMAND_DESCRIPTION_MAX}"
                        ),
                    ));
                } else if entry.offer && n > ICE_BREAKER_QUESTION_MAX {
                    errors.push(FieldError::new(
                        path,
                        format!(
                            "is {n} characters; a Messenger ice breaker allows at most {ICE_BREAKER_QUESTION_MAX}"
                        ),
                    ));
                }
            }
            for (key, list) in entry.phrasings.variants() {
                for (k, phrase) in list.iter().enumerate() {
                    let path = format!("{at}.phrasings.{}[{k}]", Localized::<()>::path_of(key));
                    let words = tokens(phrase);
                    if words.is_empty() {
                        errors.push(FieldError::new(path, "has no words to match"));
                    } else if words.iter().all(|w| is_stop_word_anywhere(w)) {
                        errors.push(FieldError::new(
                            path,
                            format!(
                                "\"{phrase}\" is only common words, which never count in matching; add a word saying what it is about"
                            ),
                        ));
                    }
                }
            }
            errors.extend(
                check_message(&entry.answer)
                    .into_iter()
                    .map(|e| e.under(&format!("{at}.answer"))),
            );
        }
        errors
    }

    /// The best entry for a free-text message, or `None`.
    ///
    /// Phrases: each entry's question and phrasings in the default variant plus the variants of
    /// the contact's language (`it_IT` → `it`, `it_CH`); every variant when the locale is
    /// unknown. Text and phrases are compared as normalised words ([`crate::text::normalise`]:
    /// case, accents, Arabic diacritics and hamza forms do not matter). Stop words — those of
    /// every supported language, since the language of default phrasings is not declared —
    /// never count as meaningful words; a phrase made only of them is ignored.
    ///
    /// Scoring, per phrase; an entry scores its best phrase:
    /// 1. **Whole-phrase hit** — every word of the phrase, in order and adjacent, is in the
    ///    message (`a che ora aprite` in "Buongiorno, a che ora aprite domani?"): score 1.0.
    /// 2. **Token overlap** otherwise — `m` meaningful words of the phrase found in the
    ///    message, of `p` in the phrase and `t` in the message: score 0.9 × 2m / (p + t), and
    ///    only when `m ≥ 2` and 2m / (p + t) ≥ [`MIN_OVERLAP`]. Here a word also matches its
    ///    inflected form when one is the other plus at most three letters and the shorter has at
    ///    least four letters (`hour`/`hours`, `toko`/`tokonya`, `orari`/`orario`), and Arabic
    ///    words match with or without the article `ال`.
    ///
    /// So a message whose only meaningful word is one word can only match a phrase that is that
    /// one keyword, exactly (after normalisation). Ties go to the phrase with more meaningful
    /// words, then the longer phrase, then the earlier entry.
    pub fn match_text(&self, text: &str, locale: Option<&str>) -> Option<FaqMatch<'_>> {
        let message = tokens(text);
        let message_words = meaningful(&message);
        if message_words.is_empty() {
            return None;
        }
        let language = locale.map(normalise_locale);
        let language = language.as_deref().map(language_of);
        let mut best: Option<(Strength, &FaqEntry)> = None;
        for entry in &self.entries {
            for phrase in entry.phrases(language) {
                let phrase = tokens(phrase);
                let Some(strength) = strength(&message, &message_words, &phrase) else {
                    continue;
                };
                if best.is_none_or(|(b, _)| strength.cmp(&b) == Ordering::Greater) {
                    best = Some((strength, entry));
                }
            }
        }
        best.map(|(s, entry)| FaqMatch {
            entry,
            score: s.score,
        })
    }

    /// The entry a Messenger ice breaker / postback (`FAQ:<id>`) or a Telegram command (`/<id>`,
    /// `/<id>@botname`, with or without arguments after a space; the command's case does not
    /// matter) asks for. The bot name is not checked: in a group the channel adapter should drop
    /// commands addressed to other bots.
    pub fn match_command_or_payload(&self, text_or_payload: &str) -> Option<&FaqEntry> {
        let s = text_or_payload.trim();
        if let Some(id) = s.strip_prefix(PAYLOAD_PREFIX) {
            return self.entry(id);
        }
        let command = s.strip_prefix('/')?.split_whitespace().next()?;
        let name = command.split('@').next()?.to_ascii_lowercase();
        if name.is_empty() {
            return None;
        }
        self.entry(&name)
    }
}

/// The distinct words of a tokenised text that are not stop words.
fn meaningful(words: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for w in words {
        if !is_stop_word_anywhere(w) && !out.contains(&w.as_str()) {
            out.push(w);
        }
    }
    out
}

fn strength(message: &[String], message_words: &[&str], phrase: &[String]) -> Option<Strength> {
    let phrase_words = meaningful(phrase);
    if phrase_words.is_empty() {
        return None;
    }
    if contains_sequence(message, phrase) {
        return Some(Strength {
            score: 1.0,
            words: phrase_words.len(),
            length: phrase.len(),
        });
    }
    let mut used = vec![false; message_words.len()];
    let mut matched = 0;
    for p in &phrase_words {
        if let Some(k) =
            (0..message_words.len()).find(|&k| !used[k] && same_word(p, message_words[k]))
        {
            used[k] = true;
            matched += 1;
        }
    }
    let dice = 2.0 * matched as f32 / (phrase_words.len() + message_words.len()) as f32;
    (matched >= 2 && dice >= MIN_OVERLAP).then_some(Strength {
        score: 0.9 * dice,
        words: matched,
        length: phrase.len(),
    })
}

/// Equal, or one is the other plus at most three letters (the shorter having at least four),
/// ignoring the Arabic article.
fn same_word(a: &str, b: &str) -> bool {
    let (a, b) = (without_article(a), without_article(b));
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let n = short.chars().count();
    n >= 4
        && short.chars().all(char::is_alphabetic)
        && long.starts_with(short)
        && long.chars().count() - n <= 3
}

fn without_article(word: &str) -> &str {
    match word.strip_prefix("ال") {
        Some(rest) if rest.chars().count() >= 2 => rest,
        _ => word,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflections() {
        assert!(same_word("hour", "hours"));
        assert!(same_word("toko", "tokonya"));
        assert!(same_word("orari", "orario"));
        assert!(same_word("العمل", "عمل"));
        assert!(!same_word("shop", "shopping"));
        assert!(!same_word("ora", "orari"));
        assert!(!same_word("2026", "20261"));
    }
}
