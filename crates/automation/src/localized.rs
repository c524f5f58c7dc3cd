//! Per-locale variants of a text or message, with a default.
//!
//! Locales are matched the way people expect: the contact's exact locale (`it_IT`), then its
//! language (`it`), then the default. Keys are normalised (`it-IT`, `it_it` → `it_IT`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Localized<T> {
    pub default: T,
    /// Variants by locale or language (`it`, `id`, `ar`, `pt_BR`).
    #[serde(default = "BTreeMap::new", skip_serializing_if = "BTreeMap::is_empty")]
    pub locales: BTreeMap<String, T>,
}

/// An empty default with no variants (`#[serde(default)]` on optional lists of phrasings).
impl<T: Default> Default for Localized<T> {
    fn default() -> Self {
        Localized::new(T::default())
    }
}

impl<T> Localized<T> {
    pub fn new(default: T) -> Self {
        Localized {
            default,
            locales: BTreeMap::new(),
        }
    }

    pub fn with(mut self, locale: &str, value: T) -> Self {
        self.locales.insert(normalise_locale(locale), value);
        self
    }

    /// The variant for a contact's locale.
    pub fn pick(&self, locale: Option<&str>) -> &T {
        let Some(locale) = locale.map(normalise_locale) else {
            return &self.default;
        };
        if let Some(exact) = self.locales.get(&locale) {
            return exact;
        }
        let language = language_of(&locale);
        self.locales
            .get(language)
            .or_else(|| {
                // A variant written for one region serves the language's other regions too.
                self.locales
                    .iter()
                    .find(|(k, _)| language_of(k) == language)
                    .map(|(_, v)| v)
            })
            .unwrap_or(&self.default)
    }

    /// Every variant with its key (`"default"` first).
    pub fn variants(&self) -> impl Iterator<Item = (&str, &T)> {
        std::iter::once(("default", &self.default))
            .chain(self.locales.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// The path of a variant inside this value, for error messages.
    pub fn path_of(key: &str) -> String {
        if key == "default" {
            "default".to_owned()
        } else {
            format!("locales.{key}")
        }
    }
}

/// `it-IT`, `IT_it`, `it_IT` → `it_IT`; `ID` → `id`.
pub fn normalise_locale(locale: &str) -> String {
    let mut parts = locale.trim().split(['_', '-']);
    let language = parts.next().unwrap_or_default().to_ascii_lowercase();
    match parts.next() {
        Some(region) if !region.is_empty() => format!("{language}_{}", region.to_ascii_uppercase()),
        _ => language,
    }
}

/// The language part of a normalised locale.
pub fn language_of(locale: &str) -> &str {
    locale.split('_').next().unwrap_or(locale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_exact_then_language_then_default() {
        let l = Localized::new("hello")
            .with("it", "ciao")
            .with("pt-BR", "olá")
            .with("ar", "مرحبا");
        assert_eq!(*l.pick(Some("it_IT")), "ciao");
        assert_eq!(*l.pick(Some("IT")), "ciao");
        assert_eq!(*l.pick(Some("pt_PT")), "olá");
        assert_eq!(*l.pick(Some("ar_AR")), "مرحبا");
        assert_eq!(*l.pick(Some("fi_FI")), "hello");
        assert_eq!(*l.pick(None), "hello");
    }
}
