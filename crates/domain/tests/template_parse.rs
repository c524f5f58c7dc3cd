//! Parsing and checking personalisation templates: every mistake is a compose-time error with the
//! exact bytes to underline, so none of them can reach a customer as a literal `{{...}}`.

use switchboard_domain::template::{
    AttributeKey, Builtin, MessengerPlaceholder, Segment, Span, Template, TemplateError,
    TemplateErrorKind, TemplateKind, Variable, Variables,
};

fn errors(text: &str) -> Vec<TemplateError> {
    Template::parse(text).expect_err("should not parse")
}

/// The one error `text` has, with the text its span covers (so the test reads like the editor's
/// underline and a wrong offset shows up as wrong text).
fn only_error(text: &str) -> (&str, TemplateErrorKind) {
    let mut errs = errors(text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = errs.remove(0);
    (&text[e.span.range()], e.kind)
}

fn key(s: &str) -> AttributeKey {
    AttributeKey::parse(s).unwrap()
}

#[test]
fn a_template_is_literals_and_placeholders() {
    let t = Template::parse("Hi {{ first_name | there }}, welcome to {{channel_name}}!").unwrap();
    assert_eq!(
        t.source(),
        "Hi {{ first_name | there }}, welcome to {{channel_name}}!"
    );
    assert_eq!(t.kind(), TemplateKind::Message);
    let shape: Vec<String> = t
        .segments()
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => format!("lit:{l}"),
            Segment::Placeholder(p) => format!("var:{}|{:?}", p.variable(), p.fallback()),
        })
        .collect();
    assert_eq!(
        shape,
        [
            "lit:Hi ",
            "var:first_name|Some(\"there\")",
            "lit:, welcome to ",
            "var:channel_name|None",
            "lit:!",
        ]
    );
    let first = t.placeholders().next().unwrap();
    assert_eq!(
        &t.source()[first.span().range()],
        "{{ first_name | there }}"
    );
    assert_eq!(&t.source()[first.name_span().range()], "first_name");
}

#[test]
fn variables_lists_each_use_in_order() {
    let t =
        Template::parse("{{full_name}} {{attr.plan|free}} {{full_name}} {{last_name}}").unwrap();
    let vars: Vec<&Variable> = t.variables().collect();
    assert_eq!(
        vars,
        [
            &Variable::Builtin(Builtin::FullName),
            &Variable::Attribute(key("plan")),
            &Variable::Builtin(Builtin::FullName),
            &Variable::Builtin(Builtin::LastName),
        ]
    );
}

#[test]
fn fallbacks_keep_inner_spaces_and_any_script() {
    for (text, fallback) in [
        ("{{first_name|teman}}", "teman"),
        ("{{first_name | cara amica }}", "cara amica"),
        ("{{first_name|صديقي}}", "صديقي"),
        ("{{first_name|a|b}}", "a|b"), // everything after the first `|`
        ("{{first_name|}}", ""),
        ("{{first_name|{x}}}", "{x"), // the first `}}` closes; the last `}` is text
    ] {
        let t = Template::parse(text).unwrap();
        assert_eq!(
            t.placeholders().next().unwrap().fallback(),
            Some(fallback),
            "{text}"
        );
    }
}

#[test]
fn single_braces_are_text() {
    let t = Template::parse("{ \"a\": 1 } {x} }{").unwrap();
    assert_eq!(
        t.segments(),
        [Segment::Literal("{ \"a\": 1 } {x} }{".into())]
    );
}

#[test]
fn unclosed_open_is_reported_at_the_open() {
    assert_eq!(
        only_error("Hi {{first_name, thanks"),
        ("{{", TemplateErrorKind::Unclosed)
    );
    // Spans are bytes: the Arabic before it is 2 bytes a character.
    let text = "مرحبا {{first_name";
    let e = &errors(text)[0];
    assert_eq!(e.span, Span { start: 11, end: 13 });
    assert_eq!(e.kind, TemplateErrorKind::Unclosed);
}

#[test]
fn an_unclosed_open_does_not_swallow_the_next_placeholder() {
    let text = "Hi {{first_name, see {{channel_name}} and {{bogus}}";
    let errs = errors(text);
    let kinds: Vec<_> = errs
        .iter()
        .map(|e| (&text[e.span.range()], &e.kind))
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert_eq!(kinds[0], ("{{", &TemplateErrorKind::Unclosed));
    assert_eq!(errs[0].span.start, 3);
    assert_eq!(kinds[1].0, "bogus"); // channel_name parsed fine in between
}

#[test]
fn stray_close_is_reported() {
    assert_eq!(
        only_error("Thanks }} bye"),
        ("}}", TemplateErrorKind::StrayClose)
    );
    let e = &errors("Thanks }} bye")[0];
    assert_eq!(e.span, Span { start: 7, end: 9 });
    // After a placeholder, a fourth `}` pair is stray too.
    let text = "{{first_name}}}}";
    let e = &errors(text)[0];
    assert_eq!(e.span, Span { start: 14, end: 16 });
}

#[test]
fn empty_names_are_reported_over_the_whole_placeholder() {
    for text in ["a {{}} b", "a {{ }} b", "a {{ | there }} b"] {
        let (covered, kind) = only_error(text);
        assert_eq!(kind, TemplateErrorKind::EmptyName, "{text}");
        assert!(
            covered.starts_with("{{") && covered.ends_with("}}"),
            "{text}"
        );
        assert_eq!(errors(text)[0].span.start, 2);
    }
}

#[test]
fn invalid_names_are_reported_over_the_name() {
    for (text, name) in [
        ("Hi {{ First_Name }}", "First_Name"),
        ("Hi {{first name}}", "first name"),
        ("Hi {{2fa}}", "2fa"),
        ("Hi {{attr.}}", "attr."),
        ("Hi {{attr.Plan}}", "attr.Plan"),
        ("Hi {{attr.plan.tier}}", "attr.plan.tier"),
        ("Hi {{nàme}}", "nàme"),
        ("Hi {{{first_name}}}", "{first_name"), // no triple-brace syntax
    ] {
        let (covered, kind) = only_error(text);
        assert_eq!(covered, name, "{text}");
        assert_eq!(
            kind,
            TemplateErrorKind::InvalidName {
                name: name.to_owned()
            },
            "{text}"
        );
    }
}

#[test]
fn unknown_builtins_are_reported_with_a_suggestion() {
    let (covered, kind) = only_error("Hi {{ frist_name }}!");
    assert_eq!(covered, "frist_name");
    assert_eq!(
        kind,
        TemplateErrorKind::UnknownBuiltin {
            name: "frist_name".into(),
            suggestion: Some("first_name".into())
        }
    );
    // A name like nothing built in is probably an attribute missing its prefix.
    let (_, kind) = only_error("Your plan: {{plan}}");
    assert_eq!(
        kind,
        TemplateErrorKind::UnknownBuiltin {
            name: "plan".into(),
            suggestion: Some("attr.plan".into())
        }
    );
}

#[test]
fn messenger_placeholders_are_unknown_in_an_ordinary_message() {
    // Nobody fills them in a chat, so a customer would see `{{user_first_name}}`.
    let (covered, kind) = only_error("Hi {{user_first_name}}");
    assert_eq!(covered, "user_first_name");
    assert_eq!(
        kind,
        TemplateErrorKind::UnknownBuiltin {
            name: "user_first_name".into(),
            suggestion: Some("first_name".into())
        }
    );
}

#[test]
fn all_errors_are_reported_in_source_order() {
    let errs = errors("}} {{}} {{Bad}} {{nope}} {{");
    let kinds: Vec<&str> = errs
        .iter()
        .map(|e| match e.kind {
            TemplateErrorKind::StrayClose => "stray",
            TemplateErrorKind::EmptyName => "empty",
            TemplateErrorKind::InvalidName { .. } => "invalid",
            TemplateErrorKind::UnknownBuiltin { .. } => "unknown",
            TemplateErrorKind::Unclosed => "unclosed",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["stray", "empty", "invalid", "unknown", "unclosed"]);
    assert!(errs.windows(2).all(|w| w[0].span.start < w[1].span.start));
}

#[test]
fn check_reports_undeclared_attributes_with_their_span() {
    let text = "Hi {{first_name}}, your {{attr.plan}} plan renews in {{ attr.days_left }} days";
    let t = Template::parse(text).unwrap();
    let schema = Variables::with_attributes([key("plan"), key("days_left")]);
    assert_eq!(t.check(&schema), Ok(()));

    let errs = t
        .check(&Variables::with_attributes([key("plan")]))
        .unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(&text[errs[0].span.range()], "attr.days_left");
    assert_eq!(
        errs[0].kind,
        TemplateErrorKind::UnknownVariable {
            name: "attr.days_left".into(),
            suggestion: None
        }
    );

    let errs = t
        .check(&Variables::with_attributes([
            key("plans"),
            key("days_left"),
        ]))
        .unwrap_err();
    assert_eq!(
        errs[0].kind,
        TemplateErrorKind::UnknownVariable {
            name: "attr.plan".into(),
            suggestion: Some("attr.plans".into())
        }
    );

    // Built-ins alone: both attributes are unknown, in order.
    let errs = t.check(&Variables::builtins()).unwrap_err();
    let names: Vec<&str> = errs.iter().map(|e| &text[e.span.range()]).collect();
    assert_eq!(names, ["attr.plan", "attr.days_left"]);
}

#[test]
fn parse_checked_is_parse_then_check() {
    let schema = Variables::with_attributes([key("plan")]);
    assert!(Template::parse_checked("{{attr.plan}}", &schema).is_ok());
    let errs = Template::parse_checked("{{attr.city}}", &schema).unwrap_err();
    assert!(matches!(
        errs[0].kind,
        TemplateErrorKind::UnknownVariable { .. }
    ));
    let errs = Template::parse_checked("{{attr.city", &schema).unwrap_err();
    assert_eq!(errs[0].kind, TemplateErrorKind::Unclosed);
}

#[test]
fn messenger_greetings_accept_exactly_messengers_placeholders() {
    let greeting = Variables::messenger_greeting();
    let t = Template::parse_checked(
        "Hello {{user_first_name}}! {{ user_last_name }} {{user_full_name}}",
        &greeting,
    )
    .unwrap();
    assert_eq!(t.kind(), TemplateKind::MessengerGreeting);
    assert_eq!(
        t.variables().cloned().collect::<Vec<_>>(),
        MessengerPlaceholder::ALL.map(Variable::Messenger)
    );

    // Our own variables have nobody to fill them in a page-wide greeting.
    let errs = Template::parse_checked("Hello {{first_name}}", &greeting).unwrap_err();
    assert_eq!(
        errs[0].kind,
        TemplateErrorKind::UnknownVariable {
            name: "first_name".into(),
            suggestion: Some("user_first_name".into())
        }
    );
    assert!(Template::parse_checked("{{attr.plan}}", &greeting).is_err());
    // Only those three names.
    let errs = Template::parse_as("{{user_name}}", TemplateKind::MessengerGreeting).unwrap_err();
    assert!(matches!(
        errs[0].kind,
        TemplateErrorKind::UnknownBuiltin { .. }
    ));
    // And a greeting template's Messenger placeholders are unknown to an ordinary schema.
    let t = Template::parse_as("{{user_first_name}}", TemplateKind::MessengerGreeting).unwrap();
    assert!(t.check(&Variables::builtins()).is_err());
}

#[test]
fn messenger_placeholders_take_no_fallback() {
    // Messenger has no fallback syntax and would show `{{user_first_name|there}}` as is.
    let text = "Hi {{user_first_name | there }}";
    let errs = Template::parse_as(text, TemplateKind::MessengerGreeting).unwrap_err();
    assert_eq!(&text[errs[0].span.range()], "| there");
    assert_eq!(
        errs[0].kind,
        TemplateErrorKind::FallbackNotAllowed {
            name: "user_first_name".into()
        }
    );
}

#[test]
fn attribute_keys_are_lowercase_identifiers() {
    assert!(AttributeKey::parse("days_left2").is_ok());
    for bad in ["", "Plan", "2x", "a-b", "a.b", "_a"] {
        assert!(AttributeKey::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn variables_lists_what_is_on_offer() {
    let names: Vec<String> = Variables::with_attributes([key("plan")])
        .available()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        names,
        [
            "first_name",
            "last_name",
            "full_name",
            "channel_name",
            "attr.plan"
        ]
    );
    let names: Vec<String> = Variables::messenger_greeting()
        .available()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        names,
        ["user_first_name", "user_last_name", "user_full_name"]
    );
}

#[test]
fn errors_serialise_for_editors() {
    let e = &errors("Hi {{frist_name}}")[0];
    assert_eq!(
        serde_json::to_value(e).unwrap(),
        serde_json::json!({
            "span": {"start": 5, "end": 15},
            "kind": "unknown_builtin",
            "name": "frist_name",
            "suggestion": "first_name",
        })
    );
    assert_eq!(
        e.to_string(),
        "`frist_name` is not a built-in variable (first_name, last_name, full_name, channel_name; \
         custom attributes are written attr.<key>); did you mean `first_name`? (bytes 5..15)"
    );
}
