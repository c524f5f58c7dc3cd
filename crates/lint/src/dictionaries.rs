//! Loading and caching Hunspell dictionaries.

use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use spellbook::Dictionary;

use crate::finding::UnavailableReason;
use crate::language::SpellLanguage;

/// SCOWL en_US from Debian's `hunspell-en-us` 1:2020.12.07-2; licence in `dict/en_US/copyright`.
const EN_US_AFF: &str = include_str!("../dict/en_US/en_US.aff");
const EN_US_DIC: &str = include_str!("../dict/en_US/en_US.dic");

/// Names every dictionary accepts: the platforms this product talks about all day, which the
/// Indonesian dictionary (for one) does not know. Mixed-case names (`WhatsApp`, `iOS`) and
/// acronyms are never checked anyway.
pub const PLATFORM_NAMES: &[&str] = &[
    "Facebook",
    "Messenger",
    "Instagram",
    "Telegram",
    "Android",
    "Switchboard",
];

#[derive(Debug, Clone)]
pub(crate) struct LoadError {
    pub reason: UnavailableReason,
    pub detail: String,
}

/// One slot per [`SpellLanguage`], each loaded on first use and kept for the life of the value,
/// failures included: installing a dictionary later needs a new `Linter` (a restart).
pub(crate) struct Dictionaries {
    dir: PathBuf,
    extra_words: Vec<String>,
    slots: [OnceLock<Result<Dictionary, LoadError>>; SpellLanguage::ALL.len()],
}

impl Dictionaries {
    pub fn new(dir: PathBuf, extra_words: Vec<String>) -> Self {
        Dictionaries {
            dir,
            extra_words,
            slots: Default::default(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn extra_words(&self) -> &[String] {
        &self.extra_words
    }

    /// The dictionary, loading it on first use. Concurrent first callers wait for one load.
    pub fn get(&self, lang: SpellLanguage) -> Result<&Dictionary, &LoadError> {
        self.slots[lang.index()]
            .get_or_init(|| {
                let mut dict = load(&self.dir, lang)?;
                for word in PLATFORM_NAMES
                    .iter()
                    .copied()
                    .chain(self.extra_words.iter().map(String::as_str))
                {
                    // `add` reads a `.dic` line: a `/` would start flags. Such "words" are skipped.
                    if !word.is_empty() && !word.contains('/') {
                        let _ = dict.add(word);
                    }
                }
                Ok(dict)
            })
            .as_ref()
    }

    pub fn loaded(&self) -> Vec<SpellLanguage> {
        SpellLanguage::ALL
            .into_iter()
            .filter(|l| matches!(self.slots[l.index()].get(), Some(Ok(_))))
            .collect()
    }
}

impl fmt::Debug for Dictionaries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dictionaries")
            .field("dir", &self.dir)
            .field("loaded", &self.loaded())
            .finish()
    }
}

fn load(dir: &Path, lang: SpellLanguage) -> Result<Dictionary, LoadError> {
    let (aff, dic) = match lang {
        SpellLanguage::EnUs => (EN_US_AFF.to_owned(), EN_US_DIC.to_owned()),
        _ => {
            let name = lang.dictionary_name();
            let aff_path = dir.join(format!("{name}.aff"));
            let dic_path = dir.join(format!("{name}.dic"));
            let aff = read(&aff_path, lang, None)?;
            let latin1 = declares_latin1(&aff);
            (aff, read(&dic_path, lang, Some(latin1))?)
        }
    };
    Dictionary::new(&aff, &dic).map_err(|e| LoadError {
        reason: UnavailableReason::LoadFailed,
        detail: format!(
            "the {} dictionary could not be parsed: {e}",
            lang.dictionary_name()
        ),
    })
}

/// Reads a dictionary file. Hunspell files declare their encoding with `SET`; spellbook needs
/// UTF-8, so ISO 8859-1 files (Debian's `id_ID.aff` says so, though its content is ASCII) are
/// decoded here. `latin1` is `None` for the `.aff` (decided from its own `SET` line).
fn read(path: &Path, lang: SpellLanguage, latin1: Option<bool>) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|e| LoadError {
        reason: if e.kind() == ErrorKind::NotFound {
            UnavailableReason::NotInstalled
        } else {
            UnavailableReason::LoadFailed
        },
        detail: format!(
            "cannot read {} ({e}); install the {} package",
            path.display(),
            lang.debian_package()
        ),
    })?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let bytes = e.into_bytes();
            let latin1 =
                latin1.unwrap_or_else(|| declares_latin1(&String::from_utf8_lossy(&bytes)));
            if latin1 {
                Ok(bytes.iter().map(|&b| char::from(b)).collect())
            } else {
                Err(LoadError {
                    reason: UnavailableReason::LoadFailed,
                    detail: format!(
                        "{} is neither UTF-8 nor declared ISO 8859-1",
                        path.display()
                    ),
                })
            }
        }
    }
}

fn declares_latin1(aff: &str) -> bool {
    aff.lines().any(|l| {
        let mut parts = l.split_whitespace();
        parts.next() == Some("SET")
            && parts.next().is_some_and(|enc| {
                matches!(
                    enc.to_ascii_uppercase().as_str(),
                    "ISO8859-1" | "ISO-8859-1" | "LATIN1"
                )
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_files_are_decoded() {
        let dir = tempfile::tempdir().unwrap();
        // "caffè" in ISO 8859-1.
        std::fs::write(dir.path().join("it_IT.aff"), b"SET ISO8859-1\nTRY abc\n").unwrap();
        std::fs::write(dir.path().join("it_IT.dic"), b"1\ncaff\xe8\n").unwrap();
        let dicts = Dictionaries::new(dir.path().to_owned(), Vec::new());
        let d = dicts.get(SpellLanguage::ItIt).unwrap();
        assert!(d.check("caffè"));
        assert_eq!(dicts.loaded(), vec![SpellLanguage::ItIt]);
    }

    #[test]
    fn undeclared_non_utf8_is_a_load_failure() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("it_IT.aff"), b"SET UTF-8\n").unwrap();
        std::fs::write(dir.path().join("it_IT.dic"), b"1\ncaff\xe8\n").unwrap();
        let dicts = Dictionaries::new(dir.path().to_owned(), Vec::new());
        let err = dicts.get(SpellLanguage::ItIt).unwrap_err();
        assert_eq!(err.reason, UnavailableReason::LoadFailed);
    }

    #[test]
    fn english_is_embedded() {
        let dicts = Dictionaries::new(PathBuf::from("/nonexistent"), vec!["Kopiku".into()]);
        let d = dicts.get(SpellLanguage::EnUs).unwrap();
        assert!(d.check("tomorrow") && !d.check("tommorow"));
        assert!(d.check("Kopiku") && d.check("Telegram"));
        assert!(!d.check("Kopik") && !d.check("kopiku"));
    }
}
