//! Behaviour of `Linter::lint` as the server sees it.
//!
//! English uses the embedded dictionary and needs nothing from the system. Italian, Indonesian
//! and Arabic need Debian's `hunspell-it`, `hunspell-id`, `hunspell-ar` in
//! `/usr/share/hunspell`: without them those tests print a `SKIPPED (dictionary …)` line and
//! return, except when the `CI` environment variable is set, where they fail.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use switchboard_domain::ChannelKind;
use switchboard_lint::{
    DEFAULT_DICTIONARY_DIR, Finding, FindingKind, LintConfig, LintContext, Linter, MAX_SUGGESTIONS,
    Severity, SpellLanguage, UnavailableReason,
};

/// One linter over the system dictionaries, shared by every test (and so by several threads).
static SYSTEM: LazyLock<Linter> = LazyLock::new(|| Linter::new(LintConfig::default()));

/// A linter whose dictionary directory is empty: only the embedded English is there.
fn linter_without_system_dictionaries() -> (Linter, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let linter = Linter::new(LintConfig {
        dictionary_dir: dir.path().to_owned(),
        ..LintConfig::default()
    });
    (linter, dir)
}

/// The shared system linter, or `None` (after saying so loudly) when `lang`'s dictionary is not
/// installed. With `CI` set a missing dictionary is a failure, not a skip.
fn system_linter(lang: SpellLanguage) -> Option<&'static Linter> {
    let name = lang.dictionary_name();
    let missing: Vec<String> = ["aff", "dic"]
        .iter()
        .map(|ext| Path::new(DEFAULT_DICTIONARY_DIR).join(format!("{name}.{ext}")))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(&SYSTEM);
    }
    let why = format!(
        "{} not found; install with `apt-get install -y {}`",
        missing.join(", "),
        lang.debian_package()
    );
    if std::env::var_os("CI").is_some() {
        panic!("dictionary {name} is required when CI is set: {why}");
    }
    // Straight to stderr, past the test harness's output capture, so it shows on a passing run.
    let _ = writeln!(
        std::io::stderr(),
        "\n**** SKIPPED (dictionary {name}): {why} ****\n"
    );
    None
}

fn ctx(language: &str) -> LintContext {
    LintContext {
        language: Some(language.to_owned()),
        channel: ChannelKind::Messenger,
        promotional: true,
    }
}

/// The misspellings, after checking that the text was spell-checked at all.
fn misspellings(findings: &[Finding]) -> Vec<&Finding> {
    let unavailable: Vec<_> = findings
        .iter()
        .filter(|f| matches!(f.kind, FindingKind::DictionaryUnavailable { .. }))
        .collect();
    assert!(
        unavailable.is_empty(),
        "not spell-checked: {unavailable:#?}"
    );
    findings
        .iter()
        .filter(|f| matches!(f.kind, FindingKind::Misspelling { .. }))
        .collect()
}

/// Exactly one misspelling, at `wrong`, suggesting `right`.
fn assert_one_misspelling(linter: &Linter, language: &str, text: &str, wrong: &str, right: &str) {
    let findings = linter.lint(text, &ctx(language));
    let found = misspellings(&findings);
    assert_eq!(found.len(), 1, "{language}: {text}\n{findings:#?}");
    let f = found[0];
    let start = text.find(wrong).unwrap();
    assert_eq!(f.span, start..start + wrong.len(), "{f:#?}");
    assert_eq!(&text[f.span.clone()], wrong);
    assert_eq!(
        f.kind,
        FindingKind::Misspelling {
            word: wrong.to_owned()
        }
    );
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.suggestions.iter().any(|s| s == right),
        "{wrong} → {:?} lacks {right}",
        f.suggestions
    );
    assert!(f.suggestions.len() <= MAX_SUGGESTIONS);
}

fn assert_clean(linter: &Linter, language: &str, text: &str) {
    let findings = linter.lint(text, &ctx(language));
    let found = misspellings(&findings);
    assert!(found.is_empty(), "{language}: {text}\n{found:#?}");
}

// ---- English: embedded, no system dictionary needed ----

#[test]
fn english_misspelling_is_flagged_without_any_system_dictionary() {
    let (linter, _dir) = linter_without_system_dictionaries();
    assert_one_misspelling(
        &linter,
        "en",
        "Your order will arrive tommorow morning.",
        "tommorow",
        "tomorrow",
    );
    assert_one_misspelling(
        &linter,
        "en-GB",
        "Please Recieve the parcel at the front desk.",
        "Recieve",
        "Receive",
    );
    assert_eq!(linter.loaded_languages(), vec![SpellLanguage::EnUs]);
}

#[test]
fn english_clean_text_has_no_misspelling() {
    let (linter, _dir) = linter_without_system_dictionaries();
    for locale in ["en", "en_US", "en-GB"] {
        assert_clean(
            &linter,
            locale,
            "Don't worry: we'll deliver your order tomorrow morning, and you can track it any \
             time. Thanks for choosing us on Messenger!",
        );
    }
}

// ---- Italian, Indonesian, Arabic: from the system dictionary directory ----

#[test]
fn italian_misspelling_is_flagged() {
    let Some(linter) = system_linter(SpellLanguage::ItIt) else {
        return;
    };
    assert_one_misspelling(
        linter,
        "it_IT",
        "Gli scopi accettabili comprendevano gli aggiornamenti di spedizzione e degli ordini.",
        "spedizzione",
        "spedizione",
    );
    // Elision does not hide a misspelling after the apostrophe.
    assert_one_misspelling(
        linter,
        "it",
        "Abbiamo ricevuto l'ordine e il messagio di conferma.",
        "messagio",
        "messaggio",
    );
}

#[test]
fn italian_clean_text_has_no_misspelling() {
    let Some(linter) = system_linter(SpellLanguage::ItIt) else {
        return;
    };
    // From the Italian seed article; elisions with straight and typographic apostrophes.
    for text in [
        "Richiedendo un'etichetta per ciascun messaggio, Facebook è in grado di applicare \
         sistematicamente le proprie regole e il processo di revisione della piattaforma \
         garantisce l'uso accurato delle etichette.",
        "Se l'azienda può convincere l'utente a impegnarsi in uno di questi canali, quel \
         messaggio passa al formato di messaggistica standard, che lo apre per materiale \
         promozionale.",
        "Messenger, d’altra parte, pone un limite rigoroso ai contenuti promozionali.",
        "Le aziende inviavano molti messaggi e non c’era un modo per etichettare \
         sistematicamente i contenuti come promozionali.",
        "Abbiamo spedito l'ordine dell'anno: grazie!",
    ] {
        assert_clean(linter, "it", text);
    }
}

#[test]
fn indonesian_misspelling_is_flagged() {
    let Some(linter) = system_linter(SpellLanguage::IdId) else {
        return;
    };
    assert_one_misspelling(
        linter,
        "id",
        "Terima kasih sudah mengunakan layanan kami.",
        "mengunakan",
        "menggunakan",
    );
    // "in" is the old ISO 639 code for Indonesian.
    assert_one_misspelling(
        linter,
        "in",
        "Pesanan Anda sudah dikirim oleh perusahan kami.",
        "perusahan",
        "perusahaan",
    );
}

#[test]
fn indonesian_clean_text_has_no_misspelling() {
    let Some(linter) = system_linter(SpellLanguage::IdId) else {
        return;
    };
    // From the Indonesian seed articles (the etiquette one, and the one on Messenger).
    for text in [
        "Anda harus bertindak cepat begitu pengguna mengirim pesan dan menerima respons instan.",
        "Jika pertanyaan atau masalah pengguna lebih kompleks, Anda mungkin ingin melanjutkan \
         percakapan di saluran lain (telepon, email, atau obrolan langsung).",
        "Pendaftaran cepat dan mudah bagi orang-orang (dibandingkan dengan halaman arahan dan \
         formulir pendaftaran pada umumnya)",
        "Beberapa merek menggunakan Facebook Messenger untuk mendorong loyalitas dan penjualan.",
    ] {
        assert_clean(linter, "id_ID", text);
    }
}

#[test]
fn arabic_misspelling_is_flagged() {
    let Some(linter) = system_linter(SpellLanguage::Ar) else {
        return;
    };
    // The seed's "مستخدم" (user) with خ typed as ح.
    assert_one_misspelling(
        linter,
        "ar",
        "يتم اختيار Instagram من قبل مليار مستحدم لتبادل الرسائل.",
        "مستحدم",
        "مستخدم",
    );
}

#[test]
fn arabic_clean_text_has_no_misspelling() {
    let Some(linter) = system_linter(SpellLanguage::Ar) else {
        return;
    };
    // From the Arabic seed article; Latin brand names and digits inside are not checked.
    for text in [
        "كل ما تحتاج لمعرفته حول تطبيق المراسلة على Facebook وكيف يمكن للشركات استخدامه للوصول \
         إلى العملاء والتوقعات باستخدام نهج محادثة.",
        "ما هي المراسلة اليوم؟ إنه المكان الذي تحدث فيه المحادثات بين الناس.",
        "تأسست باسم Facebook Chat في عام 2008 ، وتم إصدارها كتطبيق مستقل لنظامي التشغيل iOS و \
         Android في عام 2011 .",
        "- بدلاً من ذلك ، لدى Facebook Messenger 1.3 مليار مستخدم نشط مرة واحدة على الأقل شهريًا",
    ] {
        assert_clean(linter, "ar_SA", text);
    }
}

// ---- Platform limit, brevity, links ----

#[test]
fn hard_limit_is_per_channel_and_counts_characters() {
    let (linter, _dir) = linter_without_system_dictionaries();
    let on = |channel| LintContext {
        language: None,
        channel,
        promotional: true,
    };
    let too_long = |findings: Vec<Finding>| {
        findings
            .into_iter()
            .filter(|f| matches!(f.kind, FindingKind::TooLongForPlatform { .. }))
            .collect::<Vec<_>>()
    };

    // 2000 Arabic letters are 4000 bytes but 2000 characters: fits Messenger.
    let arabic = "م".repeat(2000);
    assert!(too_long(linter.lint(&arabic, &on(ChannelKind::Messenger))).is_empty());

    let text = "é".repeat(2001);
    let found = too_long(linter.lint(&text, &on(ChannelKind::Messenger)));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(
        found[0].kind,
        FindingKind::TooLongForPlatform {
            channel: ChannelKind::Messenger,
            characters: 2001,
            limit: 2000
        }
    );
    // The span is the overflow: the 2001st character.
    assert_eq!(found[0].span, 4000..4002);

    assert!(too_long(linter.lint(&text, &on(ChannelKind::Telegram))).is_empty());
    assert!(too_long(linter.lint(&"a".repeat(4096), &on(ChannelKind::Telegram))).is_empty());
    let found = too_long(linter.lint(&"a".repeat(4097), &on(ChannelKind::Telegram)));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].span, 4096..4097);
}

#[test]
fn long_message_is_advice_separate_from_the_hard_limit() {
    let (linter, _dir) = linter_without_system_dictionaries();
    let c = ctx("en");
    let long = |text: &str| {
        linter
            .lint(text, &c)
            .into_iter()
            .filter(|f| matches!(f.kind, FindingKind::LongMessage { .. }))
            .collect::<Vec<_>>()
    };

    // Three short sentences: fine.
    assert!(long("Hi Ana! Your order has shipped. It arrives on Monday.").is_empty());

    // A fourth sentence: warned, from the fourth sentence on.
    let text = "Hi Ana! Your order has shipped. It arrives on Monday. Reply if you need help.";
    let found = long(text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].severity, Severity::Warning);
    assert_eq!(
        found[0].kind,
        FindingKind::LongMessage {
            sentences: 4,
            characters: text.chars().count()
        }
    );
    assert_eq!(&text[found[0].span.clone()], "Reply if you need help.");

    // One rambling sentence past 280 characters: warned from the 281st character.
    let text = format!("Hello {}and goodbye", "and then more words ".repeat(14));
    assert!(text.chars().count() > 280);
    let found = long(&text);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].span, 280..text.len());

    // Over the platform limit: both, with different severities.
    let text = "Thanks. ".repeat(300);
    let findings = linter.lint(&text, &c);
    let kinds: Vec<(&str, Severity)> = findings
        .iter()
        .map(|f| (f.kind.name(), f.severity))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("too_long_for_platform", Severity::Error),
            ("long_message", Severity::Warning)
        ]
    );
}

#[test]
fn links_are_flagged_in_non_promotional_messages_only() {
    let (linter, _dir) = linter_without_system_dictionaries();
    let text = "Your order has shipped: https://shop.example.com/track?id=42. \
                Questions? Write to help@example.com or see example.com.";
    let mut c = ctx("en");
    c.promotional = false;
    let links: Vec<Finding> = linter
        .lint(text, &c)
        .into_iter()
        .filter(|f| matches!(f.kind, FindingKind::LinkInNonPromotional { .. }))
        .collect();
    let urls: Vec<&str> = links.iter().map(|f| &text[f.span.clone()]).collect();
    assert_eq!(
        urls,
        vec!["https://shop.example.com/track?id=42", "example.com"]
    );
    assert!(links.iter().all(|f| f.severity == Severity::Warning));
    assert_eq!(
        links[1].kind,
        FindingKind::LinkInNonPromotional {
            url: "example.com".into()
        }
    );

    c.promotional = true;
    let rest = linter.lint(text, &c);
    assert!(rest.is_empty(), "{rest:#?}");
}

// ---- What the tokenizer leaves alone ----

#[test]
fn placeholders_urls_digits_and_handles_are_not_spell_checked() {
    let (linter, _dir) = linter_without_system_dictionaries();
    let text = "Hi {{frist_nmae}}, your 2x bonus arrives at 9am: https://exampel.com/ordr \
                mail bilings@exampel.com, follow @jonh_doe and #promoo, FAQS and WhatsApp.";
    assert_eq!(
        misspellings(&linter.lint(text, &ctx("en"))),
        Vec::<&Finding>::new()
    );

    // The same misspellings as prose are flagged: the test above can fail.
    let prose = "Hi frist nmae, ordr bilings jonh promoo.";
    let flagged: Vec<&str> = misspellings(&linter.lint(prose, &ctx("en")))
        .into_iter()
        .map(|f| &prose[f.span.clone()])
        .collect();
    assert_eq!(
        flagged,
        vec!["frist", "nmae", "ordr", "bilings", "jonh", "promoo"]
    );
}

// ---- Dictionaries that are not there ----

#[test]
fn missing_dictionary_is_a_finding_not_a_panic() {
    let (linter, dir) = linter_without_system_dictionaries();
    for (locale, name) in [("it", "it_IT"), ("id_ID", "id_ID"), ("ar-EG", "ar")] {
        let findings = linter.lint("Qualcosa di sbagliatto.", &ctx(locale));
        assert_eq!(findings.len(), 1, "{findings:#?}");
        let f = &findings[0];
        assert_eq!(
            f.kind,
            FindingKind::DictionaryUnavailable {
                language: name.into(),
                reason: UnavailableReason::NotInstalled
            }
        );
        assert_eq!(f.severity, Severity::Warning);
        assert_eq!(f.span, 0..0);
        assert!(
            f.message.contains(&dir.path().display().to_string()),
            "{}",
            f.message
        );
        // Asking again answers the same (the failure is cached, not retried each time).
        assert_eq!(
            linter.lint("Qualcosa di sbagliatto.", &ctx(locale)),
            findings
        );
    }
    assert!(linter.preload(SpellLanguage::ItIt).is_err());
    assert!(linter.preload(SpellLanguage::EnUs).is_ok());
    assert_eq!(linter.loaded_languages(), vec![SpellLanguage::EnUs]);
}

#[test]
fn broken_dictionary_is_a_finding_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("it_IT.aff"), "SET UTF-8\nFLAG bogus\n").unwrap();
    std::fs::write(dir.path().join("it_IT.dic"), "1\nciao\n").unwrap();
    let linter = Linter::new(LintConfig {
        dictionary_dir: dir.path().to_owned(),
        ..LintConfig::default()
    });
    let findings = linter.lint("ciao", &ctx("it"));
    assert_eq!(
        findings.iter().map(|f| &f.kind).collect::<Vec<_>>(),
        vec![&FindingKind::DictionaryUnavailable {
            language: "it_IT".into(),
            reason: UnavailableReason::LoadFailed
        }]
    );
}

#[test]
fn languages_without_a_dictionary_are_info_findings() {
    let (linter, _dir) = linter_without_system_dictionaries();
    let text = "Facebook Messenger on yksi tärkeimmistä viestisovellusten tuotemerkkejä.";
    let findings = linter.lint(text, &ctx("fi"));
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(
        findings[0].kind,
        FindingKind::DictionaryUnavailable {
            language: "fi".into(),
            reason: UnavailableReason::NoDictionary
        }
    );
    assert_eq!(findings[0].severity, Severity::Info);

    let findings = linter.lint(text, &ctx("xx-YY"));
    assert_eq!(
        findings
            .iter()
            .map(|f| (&f.kind, f.severity))
            .collect::<Vec<_>>(),
        vec![(
            &FindingKind::DictionaryUnavailable {
                language: "xx-yy".into(),
                reason: UnavailableReason::UnknownLanguage
            },
            Severity::Info
        )]
    );

    // No language at all: no spell check and nothing to say about it.
    let none = LintContext {
        language: None,
        channel: ChannelKind::Telegram,
        promotional: true,
    };
    assert!(linter.lint(text, &none).is_empty());
}

// ---- Cost bounds, sharing, wire format ----

#[test]
fn suggestions_are_computed_for_a_bounded_number_of_words() {
    let dir = tempfile::tempdir().unwrap();
    let linter = Linter::new(LintConfig {
        dictionary_dir: dir.path().to_owned(),
        max_suggested_words: 1,
        ..LintConfig::default()
    });
    let text = "tommorow and tommorow, then recieve";
    let found: Vec<(String, Vec<String>)> = linter
        .lint(text, &ctx("en"))
        .into_iter()
        .map(|f| (text[f.span].to_owned(), f.suggestions))
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    // The repeated word reuses its suggestions; the next distinct word is over the budget.
    assert!(found[0].1.contains(&"tomorrow".to_owned()));
    assert_eq!(found[1].1, found[0].1);
    assert_eq!(found[2], ("recieve".to_owned(), vec![]));
}

#[test]
fn one_linter_serves_many_threads() {
    let (linter, _dir) = linter_without_system_dictionaries();
    let linter = Arc::new(linter);
    let text = "Your order will arrive tommorow.";
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let linter = Arc::clone(&linter);
            std::thread::spawn(move || linter.lint(text, &ctx("en")))
        })
        .collect();
    let results: Vec<Vec<Finding>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for r in &results {
        assert_eq!(r.len(), 1);
        assert_eq!(&text[r[0].span.clone()], "tommorow");
    }
}

#[test]
fn findings_serialise_as_tagged_json() {
    let (linter, _dir) = linter_without_system_dictionaries();
    let findings = linter.lint("See you tommorow", &ctx("en"));
    let json = serde_json::to_value(&findings).unwrap();
    assert_eq!(json[0]["kind"]["type"], "misspelling");
    assert_eq!(json[0]["kind"]["word"], "tommorow");
    assert_eq!(json[0]["severity"], "warning");
    assert_eq!(json[0]["span"], serde_json::json!({"start": 8, "end": 16}));
    assert!(
        json[0]["suggestions"]
            .as_array()
            .unwrap()
            .contains(&"tomorrow".into())
    );
    let back: Vec<Finding> = serde_json::from_value(json).unwrap();
    assert_eq!(back, findings);

    let ctx: LintContext =
        serde_json::from_str(r#"{"language":"it","channel":"telegram"}"#).unwrap();
    assert_eq!(ctx.channel, ChannelKind::Telegram);
    assert!(!ctx.promotional);
}
