//! Rendering personalisation templates for one contact: fallbacks in the business's language,
//! tidy text when a value is missing, no template syntax in front of a customer, and the platform
//! limit re-checked after values made the text longer.

use std::collections::BTreeMap;

use switchboard_domain::template::{
    Builtin, PersonalisationContext, Template, TemplateKind, Variable,
};
use switchboard_domain::{ChannelKind, TextError};

fn ctx(first: Option<&str>, last: Option<&str>) -> PersonalisationContext {
    PersonalisationContext {
        first_name: first.map(str::to_owned),
        last_name: last.map(str::to_owned),
        channel_name: "Toko Budi".to_owned(),
        attributes: BTreeMap::new(),
    }
}

fn render(text: &str, ctx: &PersonalisationContext) -> String {
    Template::parse(text).unwrap().render(ctx).into_string()
}

#[test]
fn values_fill_the_placeholders() {
    let mut c = ctx(Some("Ayu"), Some("Lestari"));
    c.attributes.insert("plan".into(), "Gold".into());
    assert_eq!(
        render(
            "Hi {{first_name}} {{last_name}} ({{full_name}}), {{channel_name}}: {{attr.plan}}",
            &c
        ),
        "Hi Ayu Lestari (Ayu Lestari), Toko Budi: Gold"
    );
}

#[test]
fn full_name_uses_whichever_names_are_known() {
    let t = "[{{full_name|friend}}]";
    assert_eq!(render(t, &ctx(Some("Ayu"), None)), "[Ayu]");
    assert_eq!(render(t, &ctx(None, Some("Lestari"))), "[Lestari]");
    assert_eq!(render(t, &ctx(None, None)), "[friend]");
}

#[test]
fn fallbacks_in_the_businesss_language() {
    let none = ctx(None, None);
    // Indonesian
    assert_eq!(
        render("Halo {{first_name|teman}}, terima kasih!", &none),
        "Halo teman, terima kasih!"
    );
    // Italian, a fallback with a space in it
    assert_eq!(
        render("Ciao {{ first_name | cara cliente }}, grazie!", &none),
        "Ciao cara cliente, grazie!"
    );
    // Arabic: right-to-left on screen, but logical order in the string, as written.
    assert_eq!(
        render("مرحبا {{first_name|صديقي}}، شكرا لك", &none),
        "مرحبا صديقي، شكرا لك"
    );
    // A known value wins over the fallback.
    assert_eq!(
        render("Halo {{first_name|teman}}!", &ctx(Some("Budi"), None)),
        "Halo Budi!"
    );
}

#[test]
fn blank_values_count_as_missing_and_values_are_trimmed() {
    assert_eq!(
        render("Hi {{first_name|there}}!", &ctx(Some("   "), None)),
        "Hi there!"
    );
    assert_eq!(
        render("Hi {{first_name}}!", &ctx(Some(" Ayu \n"), None)),
        "Hi Ayu!"
    );
}

#[test]
fn a_missing_value_without_fallback_leaves_tidy_text() {
    let none = ctx(None, None);
    for (template, expected) in [
        // no space before punctuation
        ("Hi {{first_name}}, thanks", "Hi, thanks"),
        ("Hi {{first_name}}!", "Hi!"),
        ("Terima kasih {{first_name}}.", "Terima kasih."),
        ("مرحبا {{first_name}}، شكرا", "مرحبا، شكرا"),
        ("Hi {{first_name}} ?", "Hi?"),
        // no double space
        ("Hi {{first_name}} and welcome", "Hi and welcome"),
        ("Dear {{first_name}} {{last_name}}, hello", "Dear, hello"),
        // nothing dangling at the ends of the text or of a line
        ("Welcome {{first_name}}", "Welcome"),
        ("{{first_name}} welcome", "welcome"),
        ("{{first_name}}, your order shipped", "your order shipped"),
        (
            "Hi {{first_name}}\nYour order shipped",
            "Hi\nYour order shipped",
        ),
        ("Hi\n{{first_name}} there", "Hi\nthere"),
        // an explicit empty fallback is the same as none
        ("Hi {{first_name|}}, thanks", "Hi, thanks"),
        // text without a join to tidy is left alone
        ("Hi,{{first_name}} thanks", "Hi, thanks"),
    ] {
        assert_eq!(render(template, &none), expected, "{template:?}");
    }
}

#[test]
fn tidying_only_touches_the_join_at_an_empty_placeholder() {
    // The author's own spacing elsewhere is theirs.
    assert_eq!(
        render("Menu:  A , B {{first_name}}!", &ctx(None, None)),
        "Menu:  A , B!"
    );
    // And a present value tidies nothing.
    assert_eq!(
        render("Hi  {{first_name}} , x", &ctx(Some("Ayu"), None)),
        "Hi  Ayu , x"
    );
}

#[test]
fn rendered_reports_missing_variables() {
    let r = Template::parse("{{first_name|there}} {{channel_name}} {{last_name}}")
        .unwrap()
        .render(&ctx(None, Some("Lestari")));
    assert_eq!(r.missing(), [Variable::Builtin(Builtin::FirstName)]);
}

#[test]
fn render_never_leaves_double_braces() {
    // Profile names come from the platforms, i.e. from the customer; attributes from imports.
    let mut c = ctx(Some("{{first_name}}"), Some("}}{{"));
    c.attributes.insert("code".into(), "{{{x}}}".into());
    c.attributes.insert("open".into(), "a{".into());
    c.attributes.insert("close".into(), "}b".into());
    for template in [
        "Hi {{first_name}} {{last_name}} {{full_name}}",
        "{{attr.code}}",
        "{{attr.open}}{x",      // a value's `{` meeting a literal `{`
        "x}{{attr.close}}",     // a literal `}` meeting a value's `}`
        "a}{{attr.missing}}}b", // literal braces joined across an empty placeholder
        "{ {{attr.missing|{}} }",
    ] {
        let out = render(template, &c);
        assert!(
            !out.contains("{{") && !out.contains("}}"),
            "{template:?} → {out:?}"
        );
    }
    // Single braces from values survive.
    assert_eq!(render("[{{attr.open}}]", &c), "[a{]");
}

#[test]
fn greetings_leave_messengers_placeholders_for_messenger() {
    let t = Template::parse_as(
        "Hi {{ user_first_name }}! Welcome to {{channel_name}}.",
        TemplateKind::MessengerGreeting,
    )
    .unwrap();
    // Written in Messenger's exact spelling, whatever spacing the author used.
    assert_eq!(
        t.render(&ctx(Some("Ayu"), None)).as_str(),
        "Hi {{user_first_name}}! Welcome to Toko Budi."
    );
    // In a chat nobody else would fill them, so render_within does, from the context.
    assert_eq!(
        t.render_within(&ctx(Some("Ayu"), None), ChannelKind::Messenger)
            .unwrap()
            .as_str(),
        "Hi Ayu! Welcome to Toko Budi."
    );
}

#[test]
fn render_within_rechecks_the_platform_limit() {
    let t = Template::parse("Hi {{first_name}}, {{attr.note}}").unwrap();
    let mut c = ctx(Some("Ayu"), None);
    // 1995 characters of Arabic (3990 bytes) fit Messenger's 2000-character limit on their own,
    // but not after "Hi Ayu, " (8 characters)…
    c.attributes.insert("note".into(), "م".repeat(1995));
    assert_eq!(
        t.render_within(&c, ChannelKind::Messenger),
        Err(TextError::TooLong {
            len: 2003,
            limit: 2000,
            kind: ChannelKind::Messenger
        })
    );
    // …the same text fits Telegram's 4096.
    let text = t.render_within(&c, ChannelKind::Telegram).unwrap();
    assert!(text.as_str().starts_with("Hi Ayu, م"));

    // Without a first name it is "Hi, " + 1995 = 1999 characters, and fits.
    c.first_name = None;
    let fits = t.render_within(&c, ChannelKind::Messenger).unwrap();
    assert_eq!(fits.as_str().chars().count(), 1999);
}

#[test]
fn render_within_refuses_text_that_rendered_empty() {
    let t = Template::parse("{{first_name}}").unwrap();
    assert_eq!(
        t.render_within(&ctx(None, None), ChannelKind::Telegram),
        Err(TextError::Empty)
    );
}
