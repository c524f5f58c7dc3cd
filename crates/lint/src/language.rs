//! From a locale string to a dictionary.

use serde::{Deserialize, Serialize};

/// The languages we can spell-check, one Hunspell dictionary each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpellLanguage {
    /// Embedded in the binary (SCOWL, from Debian's `hunspell-en-us`): always available. Every
    /// English locale (`en-GB`, `en_AU`, ...) uses it, so British spellings are flagged.
    #[serde(rename = "en_US")]
    EnUs,
    /// `it_IT.{aff,dic}` from the dictionary directory (Debian `hunspell-it`).
    #[serde(rename = "it_IT")]
    ItIt,
    /// `id_ID.{aff,dic}` from the dictionary directory (Debian `hunspell-id`).
    #[serde(rename = "id_ID")]
    IdId,
    /// `ar.{aff,dic}` from the dictionary directory (Debian `hunspell-ar`), for every Arabic
    /// locale.
    #[serde(rename = "ar")]
    Ar,
}

/// The script a dictionary's words are written in. Words in another script are not checked
/// against it (a Latin brand name in Arabic text, an Arabic name in English text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Script {
    Latin,
    Arabic,
}

impl SpellLanguage {
    pub const ALL: [SpellLanguage; 4] = [
        SpellLanguage::EnUs,
        SpellLanguage::ItIt,
        SpellLanguage::IdId,
        SpellLanguage::Ar,
    ];

    /// The dictionary's name, which is also its file stem in the dictionary directory.
    pub fn dictionary_name(self) -> &'static str {
        match self {
            SpellLanguage::EnUs => "en_US",
            SpellLanguage::ItIt => "it_IT",
            SpellLanguage::IdId => "id_ID",
            SpellLanguage::Ar => "ar",
        }
    }

    /// The Debian package that installs this dictionary into `/usr/share/hunspell`.
    pub fn debian_package(self) -> &'static str {
        match self {
            SpellLanguage::EnUs => "hunspell-en-us",
            SpellLanguage::ItIt => "hunspell-it",
            SpellLanguage::IdId => "hunspell-id",
            SpellLanguage::Ar => "hunspell-ar",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            SpellLanguage::EnUs => 0,
            SpellLanguage::ItIt => 1,
            SpellLanguage::IdId => 2,
            SpellLanguage::Ar => 3,
        }
    }

    pub(crate) fn script(self) -> Script {
        match self {
            SpellLanguage::Ar => Script::Arabic,
            _ => Script::Latin,
        }
    }
}

/// What a locale string asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LanguageChoice {
    /// No language given (`None` or a blank string): no spell check, and no finding about it.
    Unspecified,
    /// A language with a dictionary.
    Spell(SpellLanguage),
    /// A language we recognise but have no dictionary for (`"fi"`). Holds the primary subtag.
    NoDictionary(String),
    /// Anything else. Holds the locale as given, trimmed and lower-cased.
    Unknown(String),
}

impl LanguageChoice {
    /// Reads a BCP 47 tag or POSIX locale: `en`, `en_US`, `en-GB`, `it_IT.UTF-8`, `ar-SA`,
    /// `id`/`in` (the old ISO 639 code for Indonesian), `fi`. Case-insensitive; only the primary
    /// language subtag decides (every region of a language gets the same dictionary). ISO 639-2
    /// codes (`eng`, `ita`, `ind`, `ara`, `fin`) are accepted too.
    pub fn from_locale(locale: &str) -> LanguageChoice {
        let locale = locale.trim().to_ascii_lowercase();
        if locale.is_empty() {
            return LanguageChoice::Unspecified;
        }
        let primary = locale
            .split(['-', '_', '.', '@'])
            .next()
            .unwrap_or_default();
        match primary {
            "en" | "eng" => LanguageChoice::Spell(SpellLanguage::EnUs),
            "it" | "ita" => LanguageChoice::Spell(SpellLanguage::ItIt),
            "id" | "in" | "ind" => LanguageChoice::Spell(SpellLanguage::IdId),
            "ar" | "ara" => LanguageChoice::Spell(SpellLanguage::Ar),
            "fi" | "fin" => LanguageChoice::NoDictionary("fi".to_owned()),
            _ => LanguageChoice::Unknown(locale),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_map_to_dictionaries() {
        use LanguageChoice::*;
        use SpellLanguage::*;
        for (locale, want) in [
            ("en", Spell(EnUs)),
            ("en_US", Spell(EnUs)),
            ("en-GB", Spell(EnUs)),
            ("EN-us", Spell(EnUs)),
            ("it", Spell(ItIt)),
            ("it_IT", Spell(ItIt)),
            ("it_IT.UTF-8", Spell(ItIt)),
            ("id", Spell(IdId)),
            ("id_ID", Spell(IdId)),
            ("in", Spell(IdId)),
            ("ar", Spell(Ar)),
            ("ar_SA", Spell(Ar)),
            ("ar-EG", Spell(Ar)),
            ("fi", NoDictionary("fi".into())),
            ("fi_FI", NoDictionary("fi".into())),
            ("xx-YY", Unknown("xx-yy".into())),
            ("english", Unknown("english".into())),
            ("", Unspecified),
            ("  ", Unspecified),
        ] {
            assert_eq!(LanguageChoice::from_locale(locale), want, "{locale:?}");
        }
    }
}
