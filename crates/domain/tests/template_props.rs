//! Properties of templates over generated input: the parser is total (it sees whatever people
//! type into a composer), and no rendering of a parsed template, for any contact, shows template
//! syntax to a customer.

use std::collections::BTreeMap;

use proptest::prelude::*;
use switchboard_domain::template::{PersonalisationContext, Segment, Template};

/// Text made of the pieces templates are made of, so that it is often valid and, when it is not,
/// wrong in interesting ways (half braces, stray closes, names next to pipes, Arabic).
fn template_soup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{{"),
        Just("}}"),
        Just("{"),
        Just("}"),
        Just("|"),
        Just(" "),
        Just("  "),
        Just(","),
        Just("!"),
        Just("\n"),
        Just("first_name"),
        Just("full_name"),
        Just("attr.plan"),
        Just("attr."),
        Just("user_first_name"),
        Just("Hi"),
        Just("صديقي"),
        Just("{{first_name}}"),
        Just("{{ last_name | teman }}"),
        Just("{{attr.plan|}}"),
        Just("{{channel_name}}"),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// Templates that are valid by construction apart from the occasional brace pair formed across a
/// fallback, with single braces in literals and fallbacks to meet braces coming from values.
fn valid_template() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("first_name"),
        Just("last_name"),
        Just("full_name"),
        Just("channel_name"),
        Just("attr.plan"),
        Just("attr.city"),
    ];
    let placeholder = (name, prop::option::of("[a-z {}]{0,5}"), " ?", " ?").prop_map(
        |(name, fallback, pad_l, pad_r)| match fallback {
            Some(f) => format!("{{{{{pad_l}{name}{pad_r}|{f}}}}}"),
            None => format!("{{{{{pad_l}{name}{pad_r}}}}}"),
        },
    );
    // Spaces and newlines at the edges, where they meet placeholders and need tidying.
    let literal = "[ \n]?[a-z,.!?]{0,3}(\\{[a-z ]?\\})?[a-z,.!?]{0,2}[ \n]?";
    let segment = prop_oneof![placeholder, literal.prop_map(String::from)];
    prop::collection::vec(segment, 0..8).prop_map(|s| s.concat())
}

/// Any contact, including names and attributes full of braces and blanks.
fn any_context() -> impl Strategy<Value = PersonalisationContext> {
    let value = "[{} a-zé,]{0,6}";
    (
        prop::option::of(value),
        prop::option::of(value),
        value,
        prop::option::of(value),
        prop::option::of(value),
    )
        .prop_map(|(first_name, last_name, channel_name, plan, city)| {
            let mut attributes = BTreeMap::new();
            if let Some(p) = plan {
                attributes.insert("plan".to_owned(), p);
            }
            if let Some(c) = city {
                attributes.insert("city".to_owned(), c);
            }
            PersonalisationContext {
                first_name,
                last_name,
                channel_name,
                attributes,
            }
        })
}

/// What parse promises about a result, whatever the input.
fn assert_well_formed(text: &str) {
    match Template::parse(text) {
        Ok(t) => {
            assert_eq!(t.source(), text);
            for segment in t.segments() {
                match segment {
                    // The invariant rendering relies on: template syntax only in placeholders.
                    Segment::Literal(l) => {
                        assert!(!l.is_empty() && !l.contains("{{") && !l.contains("}}"));
                    }
                    Segment::Placeholder(p) => {
                        let whole = &text[p.span().range()];
                        assert!(whole.starts_with("{{") && whole.ends_with("}}"));
                        assert_eq!(&text[p.name_span().range()], p.variable().to_string());
                    }
                }
            }
        }
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                // In bounds and on character boundaries, so an editor can slice with them.
                assert!(e.span.start < e.span.end && e.span.end <= text.len());
                assert!(text.get(e.span.range()).is_some(), "{e:?} in {text:?}");
            }
            assert!(errors.windows(2).all(|w| w[0].span.start < w[1].span.start));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parse_never_panics_on_any_string(text in any::<String>()) {
        assert_well_formed(&text);
    }

    #[test]
    fn parse_never_panics_on_template_like_text(text in template_soup()) {
        assert_well_formed(&text);
    }

    /// Literal segments never hold `{{`/`}}` (checked above), so this says: no `{{` or `}}` in the
    /// output that was not in a literal — none at all — for any contact.
    #[test]
    fn rendering_never_shows_template_syntax(
        text in prop_oneof![template_soup(), valid_template()],
        ctx in any_context(),
    ) {
        if let Ok(t) = Template::parse(&text) {
            let out = t.render(&ctx).into_string();
            prop_assert!(!out.contains("{{") && !out.contains("}}"), "{text:?} → {out:?}");
        }
    }

    /// The tidying after an empty placeholder never creates a double space the author did not
    /// write: with every value missing, the only text is the author's own.
    #[test]
    fn missing_values_never_create_double_spaces(text in valid_template()) {
        prop_assume!(!text.contains("  "));
        if let Ok(t) = Template::parse(&text) {
            let out = t.render(&PersonalisationContext::default()).into_string();
            prop_assert!(!out.contains("  "), "{text:?} → {out:?}");
        }
    }

    /// Text without braces has nothing to fill in and comes out exactly as written.
    #[test]
    fn plain_text_renders_as_written(text in "[^{}]{0,40}", ctx in any_context()) {
        let t = Template::parse(&text).unwrap();
        prop_assert_eq!(t.render(&ctx).into_string(), text);
    }
}
