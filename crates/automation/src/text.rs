//! Text normalisation for honest keyword matching, without a language model.
//!
//! What people type and what a business configures are compared after the same
//! [`normalise`]: lowercase; Latin diacritics folded by a table (`à`→`a`, `ñ`→`n`, `ä`→`a`,
//! `ß`→`ss`, decomposed accents dropped); Arabic normalised the way Arabic search usually is
//! (tashkeel and tatweel removed, `أ إ آ ٱ`→`ا`, `ى`→`ي`, `ة`→`ه`, Arabic-Indic digits → `0-9`);
//! punctuation, symbols and emoji turned into word breaks; whitespace collapsed. So `STOP!`,
//! `stop 🙏` and ` Stop.` are all `stop`; `Perché?` is `perche`; `مَتَى` is `متي`.
//!
//! Words are what whitespace and punctuation separate: scripts written without spaces (Chinese,
//! Japanese, Thai) are not segmented, so a phrase in them only matches a whole run of text.

use crate::localized::{language_of, normalise_locale};

/// The languages with a stop-word list.
pub const STOP_WORD_LANGUAGES: [&str; 5] = ["en", "it", "id", "ar", "fi"];

/// Lowercase, Latin diacritics folded, Arabic normalised, punctuation and emoji removed,
/// whitespace collapsed (single spaces, no leading or trailing space).
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_break = false;
    for c in text.chars() {
        for lower in c.to_lowercase() {
            match classify(lower) {
                Class::Keep(folded) => {
                    if pending_break && !out.is_empty() {
                        out.push(' ');
                    }
                    pending_break = false;
                    out.push_str(folded.as_str());
                }
                Class::Drop => {}
                Class::Break => pending_break = true,
            }
        }
    }
    out
}

/// The normalised words of `text`.
pub fn tokens(text: &str) -> Vec<String> {
    normalise(text)
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `phrase` occurs in `text` as whole words, both normalised: `stop` is in `STOP!` and
/// `please stop`, not in `stopwatch`; `orari di apertura` is in `Orari di apertura?`. A phrase
/// with no words (empty, only punctuation or emoji) is in nothing.
pub fn contains_phrase(text: &str, phrase: &str) -> bool {
    let phrase = tokens(phrase);
    !phrase.is_empty() && contains_sequence(&tokens(text), &phrase)
}

/// Whether `needle` occurs contiguously in `haystack` (both already tokenised).
pub(crate) fn contains_sequence<S: AsRef<str>>(haystack: &[S], needle: &[S]) -> bool {
    !needle.is_empty()
        && haystack.len() >= needle.len()
        && haystack
            .windows(needle.len())
            .any(|w| w.iter().zip(needle).all(|(a, b)| a.as_ref() == b.as_ref()))
}

/// Whether `word` is a stop word — an article, pronoun, preposition, question word, greeting or
/// politeness word ("the", "please", "di", "yang", "في", "ja") — in `language` (`en`, `it`,
/// `id`, `ar`, `fi`; a locale such as `it_IT` works too). Stop words carry no meaning for
/// matching. The word is normalised first, so `Perché` and `perche` are the same; languages
/// without a list have no stop words.
pub fn is_stop_word(word: &str, language: &str) -> bool {
    let language = normalise_locale(language);
    let list = stop_words(language_of(&language));
    if list.is_empty() {
        return false;
    }
    let word = normalise(word);
    list.contains(&word.as_str())
}

/// Whether an already normalised word is a stop word in any language with a list.
pub(crate) fn is_stop_word_anywhere(normalised_word: &str) -> bool {
    STOP_WORD_LANGUAGES
        .iter()
        .any(|l| stop_words(l).contains(&normalised_word))
}

/// The stop words of a language, already normalised (folded, Arabic-normalised).
fn stop_words(language: &str) -> &'static [&'static str] {
    match language {
        "en" => EN,
        "it" => IT,
        "id" => ID,
        "ar" => AR,
        "fi" => FI,
        _ => &[],
    }
}

#[rustfmt::skip]
const EN: &[&str] = &[
    "a", "an", "the", "i", "me", "my", "mine", "you", "your", "yours", "u", "ur", "we", "us",
    "our", "he", "him", "his", "she", "her", "it", "its", "they", "them", "their", "this", "that",
    "these", "those", "is", "are", "am", "be", "been", "was", "were", "do", "does", "did", "have",
    "has", "had", "will", "would", "can", "could", "shall", "should", "may", "might", "to", "of",
    "in", "on", "at", "for", "with", "from", "by", "about", "and", "or", "but", "if", "so",
    "what", "which", "who", "whom", "when", "where", "why", "how", "there", "here", "please",
    "pls", "plz", "thanks", "thank", "thx", "hi", "hello", "hey", "dear", "any", "some", "just",
    "also", "want", "know", "tell", "s", "t", "m", "re", "ll", "ve", "d",
];

#[rustfmt::skip]
const IT: &[&str] = &[
    "il", "lo", "la", "i", "gli", "l", "le", "un", "uno", "una", "di", "a", "da", "in", "con",
    "su", "per", "tra", "fra", "e", "ed", "o", "od", "ma", "che", "chi", "cosa", "come", "dove",
    "quando", "quale", "quali", "qual", "quanto", "quanta", "quanti", "quante", "perche", "dov",
    "com", "cos", "del", "dello", "della", "dei", "degli", "delle", "al", "allo", "alla", "ai",
    "agli", "alle", "dal", "dallo", "dalla", "dai", "dagli", "dalle", "nel", "nello", "nella",
    "nei", "negli", "nelle", "sul", "sulla", "sui", "io", "tu", "lui", "lei", "noi", "voi",
    "loro", "mi", "ti", "ci", "vi", "si", "ne", "non", "mio", "mia", "tuo", "tua", "vostro",
    "vostra", "vostri", "sono", "sei", "siamo", "siete", "ho", "hai", "ha", "abbiamo", "avete",
    "hanno", "c", "favore", "grazie", "ciao", "salve", "buongiorno", "buonasera", "gentili",
    "vorrei", "potete", "potreste", "puoi", "posso", "sapere", "dite", "dirmi",
];

#[rustfmt::skip]
const ID: &[&str] = &[
    "yang", "di", "ke", "dari", "dan", "atau", "ini", "itu", "apa", "apakah", "siapa", "kapan",
    "mana", "dimana", "bagaimana", "gimana", "berapa", "saya", "aku", "kamu", "anda", "kami",
    "kita", "dia", "mereka", "ada", "adalah", "untuk", "dengan", "pada", "dalam", "tolong",
    "mohon", "bisa", "boleh", "ya", "dong", "nih", "sih", "kah", "juga", "sudah", "akan", "mau",
    "ingin", "tidak", "gak", "nggak", "hai", "halo", "terima", "kasih", "min", "kak", "gan",
    "pak", "bu", "mas", "mbak",
];

#[rustfmt::skip]
const AR: &[&str] = &[
    "في", "من", "الي", "علي", "عن", "ما", "ماذا", "هل", "هذا", "هذه", "ذلك", "تلك", "التي",
    "الذي", "انا", "انت", "انتم", "نحن", "هو", "هي", "هم", "و", "او", "ان", "لا", "لم", "لن",
    "مع", "كم", "متي", "اين", "كيف", "لماذا", "يا", "لو", "سمحت", "فضلك", "شكرا", "مرحبا",
    "السلام", "عليكم", "اهلا", "كان", "عندكم", "لديكم",
];

#[rustfmt::skip]
const FI: &[&str] = &[
    "ja", "tai", "mutta", "on", "ovat", "ole", "olen", "oli", "ei", "en", "se", "ne", "tama",
    "tuo", "nama", "mika", "mita", "milloin", "missa", "miten", "kuinka", "paljonko", "kun",
    "etta", "jos", "niin", "mina", "sina", "han", "me", "te", "he", "teilla", "teidan", "minun",
    "sinun", "meidan", "onko", "onks", "voi", "voisitte", "voitteko", "kiitos", "hei", "moi",
    "moikka", "terve", "myos", "vain", "nyt",
];

enum Class {
    /// Part of a word, as this text.
    Keep(Folded),
    /// Invisible inside a word (combining marks, joiners, tatweel): removed without a break.
    Drop,
    /// Whitespace, punctuation, symbols, emoji: a word break.
    Break,
}

/// One character's folded form: at most two characters (`ß` → `ss`).
struct Folded {
    buf: [u8; 8],
    len: usize,
}

impl Folded {
    fn one(c: char) -> Self {
        let mut buf = [0; 8];
        let len = c.encode_utf8(&mut buf).len();
        Folded { buf, len }
    }

    fn two(a: char, b: char) -> Self {
        let mut f = Folded::one(a);
        let n = b.encode_utf8(&mut f.buf[f.len..]).len();
        f.len += n;
        f
    }

    fn as_str(&self) -> &str {
        // Built from whole chars only.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

fn classify(c: char) -> Class {
    if is_dropped(c) {
        return Class::Drop;
    }
    if let Some(folded) = fold(c) {
        return Class::Keep(folded);
    }
    if c.is_alphanumeric() || is_word_sign(c) {
        Class::Keep(Folded::one(c))
    } else {
        Class::Break
    }
}

/// Characters removed without breaking the word they are in.
fn is_dropped(c: char) -> bool {
    let u = c as u32;
    match u {
        // Combining diacritics (decomposed accents), incl. extended and supplement blocks.
        0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F => {
            true
        }
        // Cyrillic combining marks, Hebrew points.
        0x0483..=0x0489 | 0x0591..=0x05BD | 0x05BF | 0x05C1..=0x05C2 | 0x05C4..=0x05C5 | 0x05C7 => {
            true
        }
        // Arabic: Quranic marks, tashkeel (U+064B–U+0652) and other marks, superscript alef,
        // tatweel, small high marks.
        0x0610..=0x061A
        | 0x064B..=0x065F
        | 0x0670
        | 0x0640
        | 0x06D6..=0x06DC
        | 0x06DF..=0x06E4
        | 0x06E7..=0x06E8
        | 0x06EA..=0x06ED => true,
        // Soft hyphen, zero-width (non-)joiners, direction marks, word joiner, invisible
        // operators, BOM, variation selectors, tag characters.
        0x00AD
        | 0x200C..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xFEFF
        | 0xFE00..=0xFE0F
        | 0xE0000..=0xE007F
        | 0xE0100..=0xE01EF => true,
        _ => false,
    }
}

/// Viramas, tone marks and other signs of Indic and South-East Asian scripts that are not
/// letters themselves but belong to the word they are in (their punctuation still breaks).
fn is_word_sign(c: char) -> bool {
    let u = c as u32;
    (0x0900..=0x109F).contains(&u)
        && !matches!(
            u,
            0x0964 | 0x0965 | 0x0970 | 0x0DF4 | 0x0E3F | 0x0E4F | 0x0E5A | 0x0E5B | 0x0F04
                ..=0x0F12 | 0x104A | 0x104B
        )
}

/// Folds a lowercase character: Latin diacritics and ligatures, Arabic letter variants,
/// Arabic-Indic digits, Greek final sigma.
fn fold(c: char) -> Option<Folded> {
    let one = |c| Some(Folded::one(c));
    let two = |a, b| Some(Folded::two(a, b));
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'ǎ' | 'ª' => one('a'),
        'æ' => two('a', 'e'),
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => one('c'),
        'ď' | 'đ' | 'ð' => one('d'),
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => one('e'),
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => one('g'),
        'ĥ' | 'ħ' => one('h'),
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' | 'ǐ' => one('i'),
        'ĳ' => two('i', 'j'),
        'ĵ' => one('j'),
        'ķ' | 'ĸ' => one('k'),
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => one('l'),
        'ñ' | 'ń' | 'ņ' | 'ň' | 'ŉ' | 'ŋ' => one('n'),
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' | 'ơ' | 'ǒ' | 'º' => {
            one('o')
        }
        'œ' => two('o', 'e'),
        'ŕ' | 'ŗ' | 'ř' => one('r'),
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' | 'ſ' => one('s'),
        'ß' => two('s', 's'),
        'ţ' | 'ť' | 'ŧ' | 'ț' => one('t'),
        'þ' => two('t', 'h'),
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ư' | 'ǔ' => {
            one('u')
        }
        'ŵ' => one('w'),
        'ý' | 'ÿ' | 'ŷ' => one('y'),
        'ź' | 'ż' | 'ž' => one('z'),
        'ﬀ' => two('f', 'f'),
        'ﬁ' => two('f', 'i'),
        'ﬂ' => two('f', 'l'),
        'ﬆ' | 'ﬅ' => two('s', 't'),
        'ς' => one('σ'),
        'ё' => one('е'),
        // Arabic: alef with hamza above / below, with madda, wasla → bare alef.
        'أ' | 'إ' | 'آ' | 'ٱ' => one('ا'),
        // Alef maqsura and Farsi yeh → yeh; teh marbuta → heh.
        'ى' | 'ی' => one('ي'),
        'ة' => one('ه'),
        '٠'..='٩' => one(char::from(b'0' + (c as u32 - 0x0660) as u8)),
        '۰'..='۹' => one(char::from(b'0' + (c as u32 - 0x06F0) as u8)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_latin_and_strips_punctuation() {
        assert_eq!(normalise("  Perché   NON aprite?!  "), "perche non aprite");
        assert_eq!(normalise("Größe: Æsir œuvre"), "grosse aesir oeuvre");
        assert_eq!(normalise("Mañana, ¿sí?"), "manana si");
        assert_eq!(normalise("Hyvää päivää! Äö"), "hyvaa paivaa ao");
        assert_eq!(normalise("stop 🙏🏽 please 👍"), "stop please");
        // Decomposed accents (e + U+0301) and a Turkish dotted capital I.
        assert_eq!(normalise("caf\u{65}\u{301} İstanbul"), "cafe istanbul");
        assert_eq!(normalise("l'orario"), "l orario");
        assert_eq!(normalise("1️⃣ 09:00"), "1 09 00");
        assert_eq!(normalise(""), "");
        assert_eq!(normalise("?!… 🎉"), "");
    }

    #[test]
    fn normalises_arabic() {
        // Tashkeel, tatweel, hamza forms, alef maqsura, teh marbuta, Arabic punctuation.
        assert_eq!(normalise("مَتَى تـــفتحون؟"), "متي تفتحون");
        assert_eq!(normalise("أين إلى آخر"), "اين الي اخر");
        assert_eq!(normalise("ساعة العمل، من فضلك"), "ساعه العمل من فضلك");
        assert_eq!(normalise("٠٩:٣٠"), "09 30");
    }

    #[test]
    fn keeps_indic_words_whole() {
        assert_eq!(tokens("नमस्ते दुनिया।"), vec!["नमस्ते", "दुनिया"]);
    }

    #[test]
    fn phrases_match_whole_words() {
        assert!(contains_phrase("STOP!", "stop"));
        assert!(contains_phrase("please stop", "Stop"));
        assert!(!contains_phrase("stopwatch", "stop"));
        assert!(contains_phrase(
            "Scusi, a che ora APRITE?",
            "a che ora aprite"
        ));
        assert!(!contains_phrase("a che ora", "a che ora aprite"));
        assert!(!contains_phrase("anything", "  !! "));
        assert!(contains_phrase("إمتى تفتحون؟", "تَفْتَحُون"));
    }

    #[test]
    fn stop_words_per_language() {
        assert!(is_stop_word("the", "en"));
        assert!(is_stop_word("Please", "en_GB"));
        assert!(is_stop_word("di", "it"));
        assert!(is_stop_word("perché", "it-IT"));
        assert!(is_stop_word("yang", "id"));
        assert!(is_stop_word("في", "ar"));
        assert!(is_stop_word("إلى", "ar"));
        assert!(is_stop_word("ja", "fi"));
        assert!(is_stop_word("mitä", "fi"));
        assert!(!is_stop_word("orari", "it"));
        assert!(!is_stop_word("the", "de"));
        // Every list is stored normalised, or it could never match.
        for language in STOP_WORD_LANGUAGES {
            for word in stop_words(language) {
                assert_eq!(normalise(word), *word, "{language}: {word}");
            }
        }
    }
}
