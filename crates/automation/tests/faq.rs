//! FAQ: matching free text in five languages, commands and ice-breaker payloads, validation.

use switchboard_automation::faq::{Faq, FaqEntry};
use switchboard_automation::localized::Localized;
use switchboard_domain::OutgoingMessage;

/// A shop's FAQ as it would be saved: JSON, English default with Italian, Indonesian, Arabic
/// and Finnish variants.
fn shop_faq() -> Faq {
    serde_json::from_str(
        r#"[
        {
            "id": "hours",
            "question": {
                "default": "What are your opening hours?",
                "locales": {
                    "it": "Quali sono gli orari di apertura?",
                    "id": "Jam berapa toko buka?",
                    "ar": "ما هي ساعات العمل؟",
                    "fi": "Milloin olette auki?"
                }
            },
            "phrasings": {
                "default": ["opening hours", "when do you open", "what time do you open"],
                "locales": {
                    "it": ["orari", "a che ora aprite", "siete aperti"],
                    "id": ["jam buka", "jam operasional", "kapan buka"],
                    "ar": ["متى تفتحون", "أوقات الدوام", "مواعيد العمل"],
                    "fi": ["aukioloajat", "milloin aukeatte"]
                }
            },
            "answer": {
                "default": {"type": "text", "text": "Monday to Friday, 9:00–13:00 and 14:00–18:00."},
                "locales": {"it": {"type": "text", "text": "Dal lunedì al venerdì, 9–13 e 14–18."}}
            },
            "offer": true
        },
        {
            "id": "shipping",
            "question": {
                "default": "Where is my order?",
                "locales": {"it": "Dov'è il mio ordine?", "id": "Di mana pesanan saya?"}
            },
            "phrasings": {
                "default": ["track my order", "tracking number", "delivery status"],
                "locales": {
                    "it": ["tracciare ordine", "spedizione"],
                    "id": ["lacak pesanan", "status pengiriman"]
                }
            },
            "answer": {"default": {
                "type": "text",
                "text": "Track your parcel here:",
                "buttons": [{"type": "url", "title": "Track", "url": "https://shop.example/track"}]
            }},
            "offer": true
        },
        {
            "id": "returns",
            "question": {"default": "Can I return an item?", "locales": {"it": "Posso fare un reso?"}},
            "phrasings": {"default": ["return", "refund", "exchange"], "locales": {"it": ["reso", "rimborso"]}},
            "answer": {"default": {"type": "text", "text": "Yes, within 30 days."}}
        },
        {
            "id": "location",
            "question": {"default": "Where is the shop?"},
            "phrasings": {"default": ["address", "directions"], "locales": {"it": ["indirizzo", "dove vi trovate"]}},
            "answer": {"default": {"type": "text", "text": "Via Roma 1, Milano."}}
        }
    ]"#,
    )
    .expect("valid FAQ JSON")
}

fn matched(faq: &Faq, text: &str, locale: Option<&str>) -> Option<String> {
    faq.match_text(text, locale).map(|m| m.entry.id.clone())
}

fn assert_matches(faq: &Faq, locale: Option<&str>, id: &str, texts: &[&str]) {
    for text in texts {
        assert_eq!(
            matched(faq, text, locale).as_deref(),
            Some(id),
            "{text:?} in {locale:?} should match {id}"
        );
    }
}

fn assert_no_match(faq: &Faq, locale: Option<&str>, texts: &[&str]) {
    for text in texts {
        let m = faq.match_text(text, locale);
        assert!(
            m.is_none(),
            "{text:?} in {locale:?} matched {:?} ({})",
            m.map(|m| &m.entry.id),
            m.map_or(0.0, |m| m.score)
        );
    }
}

#[test]
fn the_fixture_is_valid() {
    let faq = shop_faq();
    assert_eq!(faq.validate(), vec![]);
    assert_eq!(
        faq.offered().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["hours", "shipping"]
    );
    assert_eq!(faq.entries[0].payload(), "FAQ:hours");
    assert_eq!(faq.entries[0].command(), "/hours");
}

#[test]
fn italian() {
    let faq = shop_faq();
    let it = Some("it_IT");
    assert_matches(
        &faq,
        it,
        "hours",
        &[
            "Quali sono gli orari di apertura?",
            "quali sono gli orari di apertura",
            "a che ora aprite",
            "Buongiorno! A che ora APRITE domani?",
            "Scusate, siete aperti la domenica?",
            "orari",
            "Orari?",
            // The keyword anywhere in the message.
            "apertura e orari del negozio",
        ],
    );
    let exact = faq
        .match_text("Quali sono gli orari di apertura?", it)
        .unwrap();
    assert_eq!(exact.score, 1.0);
    // Not a phrase, but every meaningful word of the question, in another order: overlap.
    let overlap = faq.match_text("hours of opening?", it).unwrap();
    assert_eq!(overlap.entry.id, "hours");
    assert!(overlap.score < 1.0, "{}", overlap.score);
    assert_matches(
        &faq,
        it,
        "shipping",
        &["Dov'è il mio ordine?", "info sulla spedizione"],
    );
    assert_matches(&faq, it, "returns", &["Vorrei fare un reso"]);
    assert_matches(&faq, it, "location", &["Dove vi trovate?"]);
    // The English defaults count for an Italian contact too.
    assert_matches(&faq, it, "hours", &["what time do you open?"]);
}

#[test]
fn indonesian() {
    let faq = shop_faq();
    let id = Some("id_ID");
    assert_matches(
        &faq,
        id,
        "hours",
        &[
            "Jam berapa toko buka?",
            "jam buka hari minggu?",
            "Kapan buka, kak?",
            // Overlap with the question; "tokonya" is "toko" + a suffix.
            "Kak, tokonya buka jam berapa ya?",
        ],
    );
    assert_matches(
        &faq,
        id,
        "shipping",
        &["Min, mau lacak pesanan dong", "Di mana pesanan saya?"],
    );
}

#[test]
fn arabic_with_and_without_diacritics_and_hamza() {
    let faq = shop_faq();
    let ar = Some("ar");
    assert_matches(
        &faq,
        ar,
        "hours",
        &[
            "ما هي ساعات العمل؟",
            // Fully vocalised.
            "مَا هِيَ سَاعَاتُ العَمَلِ؟",
            // With tatweel.
            "ما هي ساعـــات العمل",
            "متى تفتحون؟",
            // Alef maqsura written as yeh.
            "متي تفتحون",
            // Phrasing written with hamza (أوقات), asked without it, and the other way round.
            "اوقات الدوام من فضلك",
            "أوقات الدوام؟",
            "ما هي مواعيد العمل يوم الجمعة؟",
        ],
    );
    // An Arabic-speaking contact's Arabic question, on a Messenger locale with a region.
    assert_matches(&faq, Some("ar_AR"), "hours", &["متى تفتحون؟"]);
}

#[test]
fn finnish() {
    let faq = shop_faq();
    assert_matches(
        &faq,
        Some("fi_FI"),
        "hours",
        &[
            "Milloin olette auki?",
            "Mitkä ovat aukioloajat?",
            "aukioloajat",
        ],
    );
}

#[test]
fn phrasings_of_another_language_do_not_count_when_the_language_is_known() {
    let faq = shop_faq();
    // Italian phrasing, Indonesian contact: only Indonesian and default phrases are used.
    assert_no_match(&faq, Some("id"), &["a che ora aprite"]);
    // Unknown language: every variant counts.
    assert_matches(
        &faq,
        None,
        "hours",
        &["a che ora aprite", "متى تفتحون", "jam buka"],
    );
    // English phrases are the defaults: they count for everyone.
    for locale in [
        None,
        Some("en_US"),
        Some("it"),
        Some("id"),
        Some("ar"),
        Some("fi"),
    ] {
        assert_matches(
            &faq,
            locale,
            "hours",
            &["When do you open?", "Opening hours please"],
        );
    }
}

#[test]
fn unrelated_text_matches_nothing() {
    let faq = shop_faq();
    for locale in [None, Some("en"), Some("it_IT"), Some("id")] {
        assert_no_match(
            &faq,
            locale,
            &[
                "I want to complain about my order",
                "hi",
                "Thanks!",
                "🙂👍",
                "",
                "what are you",
                "Can you help me?",
                "I love your shop",
            ],
        );
    }
}

#[test]
fn a_one_word_message_must_be_a_keyword_exactly() {
    let faq = shop_faq();
    assert_matches(&faq, Some("it"), "hours", &["orari", "ORARI!"]);
    // Close to "orari", and to the question's words, but not a keyword.
    assert_no_match(&faq, Some("it"), &["orario", "apertura"]);
    // "hours" and "opening" appear in phrases, but no phrase is that one word.
    assert_no_match(&faq, None, &["hours", "opening", "order"]);
    assert_matches(&faq, None, "returns", &["refund", "Refund?"]);
    // Stop words do not make a short message longer.
    assert_matches(&faq, None, "returns", &["a refund please"]);
    assert_no_match(&faq, None, &["the hours please"]);
}

#[test]
fn a_whole_phrase_beats_token_overlap() {
    let faq = shop_faq();
    // "track" ~ "tracking" and "order" overlap "track my order" (score < 1); "return" is a
    // whole keyword of another entry (score 1).
    let m = faq
        .match_text("Order tracking for a return?", None)
        .unwrap();
    assert_eq!(m.entry.id, "returns");
    assert_eq!(m.score, 1.0);
    // Without the keyword, the overlap wins on its own, with a lower score.
    let m = faq.match_text("Order tracking, how?", None).unwrap();
    assert_eq!(m.entry.id, "shipping");
    assert!(m.score < 1.0 && m.score >= 0.45, "{}", m.score);
    // Between two phrase hits the longer, more specific phrase wins.
    let m = faq
        .match_text("Where is my order? I want to return it", None)
        .unwrap();
    assert_eq!(
        m.entry.id, "shipping",
        "the question beats the one-word keyword"
    );
}

#[test]
fn commands_and_payloads() {
    let faq = shop_faq();
    for input in [
        "FAQ:hours",
        "/hours",
        "/hours@shopbot",
        "/HOURS",
        "  /hours  ",
        "/hours tomorrow",
    ] {
        assert_eq!(
            faq.match_command_or_payload(input).map(|e| e.id.as_str()),
            Some("hours"),
            "{input:?}"
        );
    }
    for input in [
        "FAQ:nope",
        "FAQ:",
        "faq:hours",
        "/nope",
        "/",
        "/@shopbot",
        "hours",
        "what are your opening hours?",
        "FAQ:HOURS",
    ] {
        assert!(faq.match_command_or_payload(input).is_none(), "{input:?}");
    }
}

fn entry(id: &str, offer: bool) -> FaqEntry {
    FaqEntry {
        id: id.to_owned(),
        question: Localized::new(format!("Question {id}?")),
        phrasings: Localized::new(vec![format!("keyword {id}")]),
        answer: Localized::new(OutgoingMessage::text("Answer")),
        offer,
    }
}

fn fields(faq: &Faq) -> Vec<String> {
    faq.validate()
        .into_iter()
        .map(|e| e.under("faq").field)
        .collect()
}

#[test]
fn validation_finds_duplicates_a_fifth_offer_and_four_buttons() {
    let mut faq = Faq::new(vec![
        entry("a", true),
        entry("b", true),
        entry("c", true),
        entry("a", true),
        entry("e", true),
    ]);
    // Entry [2]: an Italian answer with four buttons (at most three on both platforms).
    let buttons: Vec<serde_json::Value> = (0..4)
        .map(|i| serde_json::json!({"type": "postback", "title": format!("B{i}"), "payload": format!("P{i}")}))
        .collect();
    let four: OutgoingMessage = serde_json::from_value(
        serde_json::json!({"type": "text", "text": "Scegli", "buttons": buttons}),
    )
    .unwrap();
    faq.entries[2].answer = Localized::new(OutgoingMessage::text("Pick")).with("it", four);
    let errors = faq.validate();
    assert_eq!(
        fields(&faq),
        [
            "faq[2].answer.locales.it.buttons",
            "faq[3].id",
            "faq[4].offer"
        ]
    );
    assert!(errors[1].message.contains("duplicate"), "{}", errors[1]);
    assert!(errors[2].message.contains("at most 4"), "{}", errors[2]);
    // Reported once, though both platforms refuse it.
    assert!(errors[0].message.contains("4 buttons"), "{}", errors[0]);
}

#[test]
fn validation_of_ids_questions_phrasings_and_answers() {
    let mut faq = Faq::new(vec![
        entry("Opening-Hours", false),
        entry("start", false),
        entry("q", true),
        entry("p", false),
        entry("m", false),
    ]);
    faq.entries[2].question = Localized::new("?".to_owned()).with(
        "it",
        "Quali sono gli orari di apertura del negozio di via Roma nei giorni festivi e prefestivi?"
            .to_owned(),
    );
    faq.entries[3].phrasings = Localized::new(vec!["fine".to_owned()]).with(
        "it",
        vec![
            "orari".to_owned(),
            "dove siete".to_owned(),
            " ?! ".to_owned(),
        ],
    );
    faq.entries[4].answer = Localized::new(OutgoingMessage::text(""));
    let errors = faq.validate();
    assert_eq!(
        fields(&faq),
        [
            "faq[0].id",
            "faq[1].id",
            "faq[2].question.default",
            "faq[2].question.locales.it",
            "faq[3].phrasings.locales.it[1]",
            "faq[3].phrasings.locales.it[2]",
            "faq[4].answer.default.text",
        ],
        "{errors:#?}"
    );
    assert!(errors[3].message.contains("ice breaker"), "{}", errors[3]);
    // A long question is fine when it is not offered as an ice breaker.
    faq.entries[2].offer = false;
    assert!(!fields(&faq).contains(&"faq[2].question.locales.it".to_owned()));
}

#[test]
fn json_shape() {
    let faq = shop_faq();
    let json = serde_json::to_value(&faq).unwrap();
    assert!(json.is_array(), "the FAQ is a plain list");
    assert_eq!(serde_json::from_value::<Faq>(json).unwrap(), faq);
    // Phrasings and offer are optional; unknown fields are refused.
    let minimal: Faq = serde_json::from_str(
        r#"[{"id":"x","question":{"default":"What?"},"answer":{"default":{"type":"text","text":"That."}}}]"#,
    )
    .unwrap();
    assert!(minimal.entries[0].phrasings.default.is_empty());
    assert!(!minimal.entries[0].offer);
    assert!(
        serde_json::from_str::<Faq>(
            r#"[{"id":"x","question":{"default":"What?"},"answer":{"default":{"type":"text","text":"That."}},"phrasing":{"default":[]}}]"#,
        )
        .is_err()
    );
    assert_eq!(Faq::default().validate(), vec![]);
}
