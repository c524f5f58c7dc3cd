//! Whatever the text, `lint` returns findings whose spans are valid ranges of it.

use std::sync::LazyLock;

use proptest::prelude::*;
use switchboard_domain::ChannelKind;
use switchboard_lint::{LintConfig, LintContext, Linter};

static LINTER: LazyLock<(Linter, tempfile::TempDir)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let linter = Linter::new(LintConfig {
        dictionary_dir: dir.path().to_owned(),
        // Suggestions are slow and beside the point here.
        max_suggested_words: 0,
        ..LintConfig::default()
    });
    (linter, dir)
});

/// Text made of the pieces the tokenizer cares about, glued in any order.
fn messy_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{{".to_owned()),
        Just("}}".to_owned()),
        Just("https://".to_owned()),
        Just("www.".to_owned()),
        Just(".com".to_owned()),
        Just("@".to_owned()),
        Just("#".to_owned()),
        Just("'".to_owned()),
        Just("’".to_owned()),
        Just(". ".to_owned()),
        Just("؟ ".to_owned()),
        Just("dell'anno".to_owned()),
        Just("شهريًا".to_owned()),
        Just("tommorow".to_owned()),
        "[a-zA-Zäöé0-9 ]{0,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// With suggestions (slow), for fewer cases.
static SUGGESTING: LazyLock<Linter> = LazyLock::new(|| {
    Linter::new(LintConfig {
        dictionary_dir: LINTER.1.path().to_owned(),
        max_suggested_words: 2,
        ..LintConfig::default()
    })
});

fn check(text: &str, promotional: bool) {
    check_with(&LINTER.0, text, promotional);
}

fn check_with(linter: &Linter, text: &str, promotional: bool) {
    let ctx = LintContext {
        language: Some("en".into()),
        channel: ChannelKind::Messenger,
        promotional,
    };
    for f in linter.lint(text, &ctx) {
        assert!(
            f.span.start <= f.span.end && f.span.end <= text.len(),
            "{f:?}"
        );
        assert!(text.is_char_boundary(f.span.start) && text.is_char_boundary(f.span.end));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text(text in any::<String>(), promotional in any::<bool>()) {
        check(&text, promotional);
    }

    #[test]
    fn messy_text_never_panics(text in messy_text(), promotional in any::<bool>()) {
        check(&text, promotional);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn suggestions_never_panic(text in messy_text(), promotional in any::<bool>()) {
        check_with(&SUGGESTING, &text, promotional);
    }
}
