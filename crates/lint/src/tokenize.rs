//! Finding the words worth spell-checking, and the things that are not words.
//!
//! Two passes over the text:
//!
//! 1. **Regions** that are never prose: `{{placeholders}}` (from `{{` to the next `}}`, spaces
//!    allowed), and whitespace-delimited chunks that are URLs (`scheme://…`, `www.…`, bare
//!    domains such as `messenger.com` or `t.me/name`), e-mail addresses (anything with an `@`
//!    inside), `@mentions` and `#hashtags`. Surrounding punctuation (`(`, `"`, a final `.`) is not
//!    part of a region.
//! 2. **Words**: Unicode word boundaries (UAX #29), which works for any script, keeps Arabic
//!    diacritics with their letters and keeps elisions and contractions in one word
//!    (`l'ordine`, `dell'anno`, `don't`; Hunspell's Italian and English dictionaries know these
//!    forms). A word is skipped when it overlaps a region, contains a digit (`9am`, `2x`),
//!    contains anything but letters, marks and apostrophes (`file.txt`, `snake_case`), is an
//!    all-caps acronym of two letters or more (`FAQ`, `NASA's`), or is mixed-case (`WhatsApp`,
//!    `iPhone`, `SMMExpert`: brand names). Hyphenated words are split at the hyphen by
//!    UAX #29 and each part is checked (`orang-orang`, `e-mail`).

use std::ops::Range;

use unicode_segmentation::UnicodeSegmentation;

use crate::language::Script;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegionKind {
    Placeholder,
    Url,
    Email,
    Mention,
    Hashtag,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Region {
    pub kind: RegionKind,
    pub range: Range<usize>,
}

/// A word to check: where it is and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word<'a> {
    pub range: Range<usize>,
    pub text: &'a str,
}

/// Top-level domains that make a bare `name.tld` (without a path) count as a link. With a path
/// (`t.me/x`) any alphabetic top-level domain counts.
const COMMON_TLDS: &[&str] = &[
    "ae", "ai", "app", "ar", "au", "biz", "br", "ca", "cn", "co", "com", "de", "dev", "edu", "eg",
    "es", "eu", "fi", "fr", "gl", "gov", "id", "in", "info", "io", "it", "jp", "link", "ly", "me",
    "net", "nl", "online", "org", "page", "ru", "sa", "shop", "site", "store", "to", "tv", "uk",
    "us", "xyz",
];

fn is_opening_punct(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | '{' | '<' | '"' | '\'' | '“' | '‘' | '«' | '„' | '¡' | '¿'
    )
}

fn is_closing_punct(c: char) -> bool {
    matches!(
        c,
        '.' | ','
            | ';'
            | ':'
            | '!'
            | '?'
            | ')'
            | ']'
            | '}'
            | '>'
            | '"'
            | '\''
            | '”'
            | '’'
            | '»'
            | '…'
            | '،'
            | '؛'
            | '؟'
    )
}

/// Placeholders first, then per-chunk regions; sorted by start, possibly overlapping.
pub(crate) fn regions(text: &str) -> Vec<Region> {
    let mut out = Vec::new();

    let mut from = 0;
    while let Some(open) = text[from..].find("{{").map(|i| from + i) {
        let end = match text[open + 2..].find("}}") {
            Some(i) => open + 2 + i + 2,
            // Unclosed: up to the end of the chunk.
            None => text[open..]
                .find(char::is_whitespace)
                .map_or(text.len(), |i| open + i),
        };
        out.push(Region {
            kind: RegionKind::Placeholder,
            range: open..end,
        });
        from = end;
    }

    for (start, chunk) in chunks(text) {
        let lead = chunk.len() - chunk.trim_start_matches(is_opening_punct).len();
        let core = chunk[lead..].trim_end_matches(is_closing_punct);
        if core.is_empty() {
            continue;
        }
        let core_start = start + lead;
        let region = |kind, range: Range<usize>| Region {
            kind,
            range: core_start + range.start..core_start + range.end,
        };
        if let Some(scheme_end) = core.find("://") {
            // The scheme may be glued to text before it ("see:https://…").
            let scheme_start = core[..scheme_end]
                .char_indices()
                .rev()
                .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
                .map_or(0, |(i, c)| i + c.len_utf8());
            out.push(region(RegionKind::Url, scheme_start..core.len()));
        } else if core.len() > 4
            && core
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("www."))
        {
            out.push(region(RegionKind::Url, 0..core.len()));
        } else if let Some(rest) = core.strip_prefix('@') {
            if !rest.is_empty() {
                out.push(region(RegionKind::Mention, 0..core.len()));
            }
        } else if core.contains('@') {
            out.push(region(RegionKind::Email, 0..core.len()));
        } else if let Some(rest) = core.strip_prefix('#') {
            if rest.starts_with(char::is_alphanumeric) {
                out.push(region(RegionKind::Hashtag, 0..core.len()));
            }
        } else if is_bare_domain(core) {
            out.push(region(RegionKind::Url, 0..core.len()));
        }
    }

    out.sort_by_key(|r| (r.range.start, r.range.end));
    out
}

/// `text` with every region replaced by as many `x` as it has bytes: same byte offsets, no
/// punctuation from URLs and the like.
pub(crate) fn mask<'a>(text: &'a str, regions: &[Region]) -> std::borrow::Cow<'a, str> {
    if regions.is_empty() {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in regions {
        if r.range.end <= at {
            continue;
        }
        let start = r.range.start.max(at);
        out.push_str(&text[at..start]);
        out.extend(std::iter::repeat_n('x', r.range.end - start));
        at = r.range.end;
    }
    out.push_str(&text[at..]);
    out.into()
}

/// Whitespace-delimited chunks with their byte offsets.
fn chunks(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(char::is_whitespace)
        .filter(|c| !c.is_empty())
        .map(move |c| (c.as_ptr() as usize - text.as_ptr() as usize, c))
}

/// `messenger.com`, `shop.example.co.id`, `t.me/switchboard`, `bit.ly/x?y=1`; not `e.g`,
/// `file.txt`, `Node.js` or `end.It` (a missing space after a full stop).
fn is_bare_domain(core: &str) -> bool {
    let (host, has_path) = match core.find(['/', '?', '#']) {
        Some(i) => (&core[..i], true),
        None => (core, false),
    };
    let host = match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    if !labels
        .iter()
        .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
    {
        return false;
    }
    let tld = labels[labels.len() - 1];
    let tld_ok = (2..=24).contains(&tld.len()) && tld.bytes().all(|b| b.is_ascii_lowercase());
    tld_ok && (has_path || COMMON_TLDS.contains(&tld))
}

/// The words of `text` worth checking in `script`, in order. `regions` must come from
/// [`regions`] on the same text.
pub(crate) fn words<'a>(text: &'a str, regions: &[Region], script: Script) -> Vec<Word<'a>> {
    text.split_word_bound_indices()
        .filter_map(|(start, w)| {
            let range = start..start + w.len();
            let skip = !w.chars().any(char::is_alphabetic)
                || regions
                    .iter()
                    .any(|r| r.range.start < range.end && range.start < r.range.end)
                || !w.chars().all(is_word_char)
                || is_acronym(w)
                || is_mixed_case(w)
                || !w
                    .chars()
                    .filter(|c| c.is_alphabetic())
                    .all(|c| in_script(c, script));
            (!skip).then_some(Word { range, text: w })
        })
        .collect()
}

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ')
}

/// Letters (which includes Arabic vowel marks), other combining marks, joiners, apostrophes.
/// Digits are not: "9am", "2x" are skipped.
fn is_word_char(c: char) -> bool {
    c.is_alphabetic()
        || is_apostrophe(c)
        || matches!(c, '\u{200C}' | '\u{200D}')
        || is_combining_mark(c)
}

fn is_combining_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'   // combining diacritical marks (decomposed accents)
        | '\u{0610}'..='\u{061A}' // Arabic marks
        | '\u{064B}'..='\u{065F}' // Arabic harakat
        | '\u{0670}'
        | '\u{06D6}'..='\u{06ED}'
        | '\u{08D3}'..='\u{08FF}'
        | '\u{FE20}'..='\u{FE2F}')
}

/// Two or more cased letters, none lower-case, before any apostrophe: `FAQ`, `NASA's`.
fn is_acronym(w: &str) -> bool {
    let stem = w.split(is_apostrophe).next().unwrap_or(w);
    let cased: Vec<char> = stem
        .chars()
        .filter(|c| c.is_uppercase() || c.is_lowercase())
        .collect();
    cased.len() >= 2 && cased.iter().all(|c| c.is_uppercase())
}

/// Mixed case: some small letter and a capital anywhere but first. `WhatsApp`, `iPhone`,
/// `SMMExpert`, `McDonald`: names, which dictionaries do not know.
fn is_mixed_case(w: &str) -> bool {
    w.chars().any(char::is_lowercase) && w.chars().skip(1).any(char::is_uppercase)
}

fn in_script(c: char, script: Script) -> bool {
    let arabic = matches!(c,
        '\u{0600}'..='\u{06FF}'
        | '\u{0750}'..='\u{077F}'
        | '\u{08A0}'..='\u{08FF}'
        | '\u{FB50}'..='\u{FDFF}'
        | '\u{FE70}'..='\u{FEFF}');
    let latin = c.is_ascii_alphabetic()
        || matches!(c,
            '\u{00AA}' | '\u{00BA}'
            | '\u{00C0}'..='\u{024F}'
            | '\u{1E00}'..='\u{1EFF}'
            | '\u{2C60}'..='\u{2C7F}'
            | '\u{A720}'..='\u{A7FF}');
    match script {
        Script::Arabic => arabic,
        Script::Latin => latin,
    }
}

/// What a dictionary gets: typographic apostrophes as ASCII ones (the Italian dictionary only
/// knows `l'ordine`, not `l’ordine`).
pub(crate) fn normalize_for_dictionary(w: &str) -> std::borrow::Cow<'_, str> {
    if w.contains(['’', 'ʼ']) {
        w.replace(['’', 'ʼ'], "'").into()
    } else {
        w.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latin_words(text: &str) -> Vec<&str> {
        let r = regions(text);
        words(text, &r, Script::Latin)
            .into_iter()
            .map(|w| {
                assert_eq!(&text[w.range.clone()], w.text);
                w.text
            })
            .collect()
    }

    fn region_texts(text: &str) -> Vec<(RegionKind, &str)> {
        regions(text)
            .into_iter()
            .map(|r| (r.kind, &text[r.range]))
            .collect()
    }

    #[test]
    fn skips_placeholders_urls_emails_mentions_hashtags() {
        let text = "Hi {{ first_name }}, see (https://example.com/a?b=1). Mail ops@example.com or \
                    @support_team, #promo, www.Example.org and t.me/switchboard, messenger.com.";
        assert_eq!(
            region_texts(text),
            vec![
                (RegionKind::Placeholder, "{{ first_name }}"),
                (RegionKind::Url, "https://example.com/a?b=1"),
                (RegionKind::Email, "ops@example.com"),
                (RegionKind::Mention, "@support_team"),
                (RegionKind::Hashtag, "#promo"),
                (RegionKind::Url, "www.Example.org"),
                (RegionKind::Url, "t.me/switchboard"),
                (RegionKind::Url, "messenger.com"),
            ]
        );
        assert_eq!(latin_words(text), vec!["Hi", "see", "Mail", "or", "and"]);
    }

    #[test]
    fn masking_keeps_offsets() {
        let text = "Ask {{name}}? Track: https://é.example/x?y=1. Done, vähttps://a.b";
        let masked = mask(text, &regions(text));
        assert_eq!(masked.len(), text.len());
        let url_bytes = "https://é.example/x?y=1".len();
        assert_eq!(
            masked,
            format!(
                "Ask {}? Track: {}. Done, vä{}",
                "x".repeat(8),
                "x".repeat(url_bytes),
                "x".repeat(11)
            )
        );
    }

    #[test]
    fn placeholders_glued_to_words_and_unclosed() {
        let text = "Dear{{name}}, your {{order_id is ready";
        assert_eq!(
            region_texts(text),
            vec![
                (RegionKind::Placeholder, "{{name}}"),
                (RegionKind::Placeholder, "{{order_id"),
            ]
        );
        assert_eq!(latin_words(text), vec!["Dear", "your", "is", "ready"]);
    }

    #[test]
    fn not_links() {
        for s in [
            "e.g.", "i.e.", "file.txt", "Node.js", "end.It", "U.S.A.", "3.14", "a.m.",
        ] {
            assert!(!is_bare_domain(s.trim_end_matches('.')), "{s}");
        }
        for s in [
            "facebook.com",
            "shop.example.co.id",
            "bit.ly/x?y=1",
            "localhost.dev:8080",
        ] {
            assert!(is_bare_domain(s), "{s}");
        }
    }

    #[test]
    fn skips_digits_acronyms_brands_and_identifiers() {
        assert_eq!(
            latin_words(
                "Open 9am to 5pm, 2x faster! FAQ, NASA's, WhatsApp and iPhone, SMMExpert; \
                         non_promotional_subscription file.txt fine"
            ),
            vec!["Open", "to", "faster", "and", "fine"]
        );
    }

    #[test]
    fn apostrophes_stay_inside_words() {
        assert_eq!(
            latin_words("Don't worry: l'ordine dell'anno, un po' di tempo, l’ordine."),
            vec![
                "Don't",
                "worry",
                "l'ordine",
                "dell'anno",
                "un",
                "po",
                "di",
                "tempo",
                "l’ordine"
            ]
        );
        assert_eq!(normalize_for_dictionary("l’ordine"), "l'ordine");
    }

    #[test]
    fn arabic_and_indonesian_words() {
        let ar = "ما هي المراسلة اليوم؟ Facebook شهريًا، 2015";
        let r = regions(ar);
        let got: Vec<&str> = words(ar, &r, Script::Arabic)
            .into_iter()
            .map(|w| w.text)
            .collect();
        assert_eq!(got, vec!["ما", "هي", "المراسلة", "اليوم", "شهريًا"]);

        assert_eq!(
            latin_words("orang-orang menggunakan e-mail; السلام"),
            vec!["orang", "orang", "menggunakan", "e", "mail"]
        );
    }
}
