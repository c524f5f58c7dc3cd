//! Personalisation templates: `Hi {{first_name|there}}, welcome to {{channel_name}}!`
//!
//! A [`Template`] is parsed once, when someone composes a message, into literal text and
//! placeholders ("parse, don't validate"). Everything that can be wrong with a template is a
//! compose-time [`TemplateError`] with a byte span for the editor to underline: a typo'd or unknown
//! variable must never reach a customer's chat as a literal `{{...}}`.
//!
//! # Syntax
//!
//! - `{{ name }}` inserts a variable; `{{ name | fallback }}` inserts `fallback` when the contact
//!   has no value for it. Whitespace around the name and the fallback is trimmed. The fallback is
//!   everything after the first `|` up to the closing `}}`, so it may contain spaces, further `|`
//!   and any script (`{{first_name|teman}}`, `{{first_name|صديقي}}`). Placeholders do not nest.
//! - Names are lowercase `[a-z][a-z0-9_]*`. The built-ins are `first_name`, `last_name`,
//!   `full_name` and `channel_name`.
//! - Custom contact attributes are written `attr.<key>`, key `[a-z][a-z0-9_]*`
//!   (`{{attr.plan|free}}`). The prefix keeps them in their own namespace: a channel declaring an
//!   attribute called `first_name`, or a built-in added later, cannot silently change what an
//!   existing template means, and a misspelt built-in (`{{frist_name}}`) is caught by [`parse`]
//!   alone instead of looking like an undeclared attribute.
//! - **There is no way to write a literal `{{` or `}}`.** A stray `}}` is an error and every `{{`
//!   opens a placeholder. No customer message needs double braces, while a typo that leaves
//!   `{{first_name}` in a message is common; an escape (`{{{{`?) would make exactly that broken
//!   look legitimate and would let `{{` reach a chat. Single braces are ordinary text.
//!
//! # Checking
//!
//! [`parse`] knows the built-ins; which custom attributes exist is per channel, so
//! [`Template::check`] takes a [`Variables`] schema and reports the variables it does not offer.
//!
//! # Messenger greetings
//!
//! Messenger's greeting text (`messenger_profile.greeting`) is filled in by Messenger itself with
//! `{{user_first_name}}`, `{{user_last_name}}` and `{{user_full_name}}` (protocols.md A15). Those
//! names are only accepted when the text is parsed as a greeting
//! ([`TemplateKind::MessengerGreeting`] via [`Template::parse_as`], or [`Template::parse_checked`]
//! with [`Variables::messenger_greeting`]); [`Template::render`] then writes them out untouched, in
//! Messenger's exact spelling, for Messenger to fill. In an ordinary message they are unknown
//! built-ins, because nobody would fill them in.
//!
//! [`parse`]: Template::parse

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

use serde::Serialize;

use crate::channel::ChannelKind;
use crate::message::{MessageText, TextError};

const OPEN: &str = "{{";
const CLOSE: &str = "}}";
const ATTRIBUTE_PREFIX: &str = "attr.";

/// A half-open byte range `start..end` into [`Template::source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    pub fn range(self) -> Range<usize> {
        self.start..self.end
    }
}

/// Where a text goes, which decides the names a template may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TemplateKind {
    /// A message sent into a chat: only our own variables, all filled in by [`Template::render`].
    #[default]
    Message,
    /// Messenger's greeting text, where Messenger fills `{{user_first_name}}` and friends itself.
    MessengerGreeting,
}

/// The variables every channel offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builtin {
    FirstName,
    LastName,
    /// First and last name, whichever are known, separated by a space.
    FullName,
    ChannelName,
}

impl Builtin {
    pub const ALL: [Builtin; 4] = [
        Builtin::FirstName,
        Builtin::LastName,
        Builtin::FullName,
        Builtin::ChannelName,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::FirstName => "first_name",
            Builtin::LastName => "last_name",
            Builtin::FullName => "full_name",
            Builtin::ChannelName => "channel_name",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Builtin::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// The placeholders Messenger fills in itself in greeting texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessengerPlaceholder {
    UserFirstName,
    UserLastName,
    UserFullName,
}

impl MessengerPlaceholder {
    pub const ALL: [MessengerPlaceholder; 3] = [
        MessengerPlaceholder::UserFirstName,
        MessengerPlaceholder::UserLastName,
        MessengerPlaceholder::UserFullName,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MessengerPlaceholder::UserFirstName => "user_first_name",
            MessengerPlaceholder::UserLastName => "user_last_name",
            MessengerPlaceholder::UserFullName => "user_full_name",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        MessengerPlaceholder::ALL
            .into_iter()
            .find(|m| m.name() == name)
    }

    /// The text Messenger looks for, exactly as it expects it (no inner spaces, no fallback).
    pub fn token(self) -> &'static str {
        match self {
            MessengerPlaceholder::UserFirstName => "{{user_first_name}}",
            MessengerPlaceholder::UserLastName => "{{user_last_name}}",
            MessengerPlaceholder::UserFullName => "{{user_full_name}}",
        }
    }

    /// Our variable with the same meaning.
    pub fn builtin(self) -> Builtin {
        match self {
            MessengerPlaceholder::UserFirstName => Builtin::FirstName,
            MessengerPlaceholder::UserLastName => Builtin::LastName,
            MessengerPlaceholder::UserFullName => Builtin::FullName,
        }
    }
}

/// The key of a custom contact attribute: `[a-z][a-z0-9_]*`, referenced as `{{attr.<key>}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AttributeKey(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an attribute key is [a-z][a-z0-9_]*, got {0:?}")]
pub struct InvalidAttributeKey(pub String);

impl AttributeKey {
    pub fn parse(s: &str) -> Result<Self, InvalidAttributeKey> {
        if is_identifier(s) {
            Ok(AttributeKey(s.to_owned()))
        } else {
            Err(InvalidAttributeKey(s.chars().take(40).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a placeholder refers to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variable {
    Builtin(Builtin),
    Attribute(AttributeKey),
    /// Only in [`TemplateKind::MessengerGreeting`] templates.
    Messenger(MessengerPlaceholder),
}

impl fmt::Display for Variable {
    /// The name as written in a template: `first_name`, `attr.plan`, `user_first_name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Variable::Builtin(b) => f.write_str(b.name()),
            Variable::Attribute(k) => write!(f, "{ATTRIBUTE_PREFIX}{}", k.as_str()),
            Variable::Messenger(m) => f.write_str(m.name()),
        }
    }
}

/// One `{{ name | fallback }}` of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    variable: Variable,
    fallback: Option<String>,
    span: Span,
    name_span: Span,
}

impl Placeholder {
    pub fn variable(&self) -> &Variable {
        &self.variable
    }

    /// Trimmed; `Some("")` for an explicit empty fallback (`{{first_name|}}`).
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// From `{{` to `}}` inclusive.
    pub fn span(&self) -> Span {
        self.span
    }

    /// The trimmed name only.
    pub fn name_span(&self) -> Span {
        self.name_span
    }
}

/// A piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text sent as written. Never contains `{{` or `}}`.
    Literal(String),
    Placeholder(Placeholder),
}

/// A parsed personalisation template. See the [module documentation](self) for the syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    kind: TemplateKind,
    segments: Vec<Segment>,
}

/// Something wrong with a template, with the bytes of [`Template::source`] it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{kind} (bytes {start}..{end})", start = .span.start, end = .span.end)]
pub struct TemplateError {
    pub span: Span,
    #[serde(flatten)]
    pub kind: TemplateErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateErrorKind {
    /// A `{{` with no `}}` before the end of the text or before the next `{{`.
    /// Span: the `{{`.
    Unclosed,
    /// A `}}` outside any placeholder. Span: the `}}`.
    StrayClose,
    /// `{{}}`, `{{ }}` or `{{ | fallback }}`. Span: the whole placeholder.
    EmptyName,
    /// A name that is not `[a-z][a-z0-9_]*` or `attr.<key>`. Span: the name.
    InvalidName { name: String },
    /// A well-formed name that is not a built-in (nor, in greetings, a Messenger placeholder).
    /// Span: the name.
    UnknownBuiltin {
        name: String,
        suggestion: Option<String>,
    },
    /// Found by [`Template::check`]: the schema does not offer this variable. Span: the name.
    UnknownVariable {
        name: String,
        suggestion: Option<String>,
    },
    /// A fallback on a Messenger placeholder, which Messenger would show literally.
    /// Span: from the `|` to the end of the fallback.
    FallbackNotAllowed { name: String },
}

impl fmt::Display for TemplateErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateErrorKind::Unclosed => f.write_str("`{{` is not closed by `}}`"),
            TemplateErrorKind::StrayClose => f.write_str(
                "`}}` without an opening `{{` (double braces cannot be written as text)",
            ),
            TemplateErrorKind::EmptyName => f.write_str("`{{ }}` does not name a variable"),
            TemplateErrorKind::InvalidName { name } => write!(
                f,
                "`{name}` is not a variable name: names are [a-z][a-z0-9_]*, custom attributes \
                 are written attr.<key>"
            ),
            TemplateErrorKind::UnknownBuiltin { name, suggestion } => {
                write!(
                    f,
                    "`{name}` is not a built-in variable (first_name, last_name, full_name, \
                     channel_name; custom attributes are written attr.<key>)"
                )?;
                write_suggestion(f, suggestion.as_deref())
            }
            TemplateErrorKind::UnknownVariable { name, suggestion } => {
                write!(f, "`{name}` is not available here")?;
                write_suggestion(f, suggestion.as_deref())
            }
            TemplateErrorKind::FallbackNotAllowed { name } => write!(
                f,
                "Messenger fills `{{{{{name}}}}}` itself and has no fallback syntax"
            ),
        }
    }
}

fn write_suggestion(f: &mut fmt::Formatter<'_>, suggestion: Option<&str>) -> fmt::Result {
    match suggestion {
        Some(s) => write!(f, "; did you mean `{s}`?"),
        None => Ok(()),
    }
}

/// The variables a template may use where it is going: the built-ins plus a channel's declared
/// custom attributes, or — for Messenger greetings — exactly Messenger's own placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    greeting: bool,
    attributes: BTreeSet<AttributeKey>,
}

impl Variables {
    /// The built-ins, no custom attributes.
    pub fn builtins() -> Self {
        Variables::default()
    }

    /// The built-ins plus the channel's declared custom attribute keys.
    pub fn with_attributes(keys: impl IntoIterator<Item = AttributeKey>) -> Self {
        Variables {
            greeting: false,
            attributes: keys.into_iter().collect(),
        }
    }

    /// Messenger's greeting text: exactly `user_first_name`, `user_last_name` and
    /// `user_full_name`. Our own variables are not offered: a greeting is one text shown to every
    /// visitor, set once per page, so there is nobody to fill them in for.
    pub fn messenger_greeting() -> Self {
        Variables {
            greeting: true,
            attributes: BTreeSet::new(),
        }
    }

    /// The kind of text these variables are for.
    pub fn template_kind(&self) -> TemplateKind {
        if self.greeting {
            TemplateKind::MessengerGreeting
        } else {
            TemplateKind::Message
        }
    }

    pub fn accepts(&self, variable: &Variable) -> bool {
        match variable {
            Variable::Builtin(_) => !self.greeting,
            Variable::Attribute(key) => !self.greeting && self.attributes.contains(key),
            Variable::Messenger(_) => self.greeting,
        }
    }

    /// Every variable on offer, for autocompletion.
    pub fn available(&self) -> Vec<Variable> {
        if self.greeting {
            MessengerPlaceholder::ALL
                .into_iter()
                .map(Variable::Messenger)
                .collect()
        } else {
            Builtin::ALL
                .into_iter()
                .map(Variable::Builtin)
                .chain(self.attributes.iter().cloned().map(Variable::Attribute))
                .collect()
        }
    }

    /// The offered variable someone writing `variable` most likely meant.
    fn suggest(&self, variable: &Variable) -> Option<String> {
        // The same meaning in the other dialect: `first_name` in a greeting, `user_first_name`
        // in a message.
        let counterpart = match variable {
            Variable::Builtin(b) => MessengerPlaceholder::ALL
                .into_iter()
                .find(|m| m.builtin() == *b)
                .map(Variable::Messenger),
            Variable::Messenger(m) => Some(Variable::Builtin(m.builtin())),
            Variable::Attribute(_) => None,
        };
        if let Some(c) = counterpart.filter(|c| self.accepts(c)) {
            return Some(c.to_string());
        }
        let names: Vec<String> = self.available().iter().map(|v| v.to_string()).collect();
        closest(&variable.to_string(), names.iter().map(String::as_str)).map(str::to_owned)
    }
}

/// What we know about the person a message is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonalisationContext {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub channel_name: String,
    /// Custom attributes by key (without the `attr.` prefix).
    pub attributes: BTreeMap<String, String>,
}

impl PersonalisationContext {
    /// The value of `variable`, trimmed; `None` when absent or blank, so the fallback applies.
    pub fn value(&self, variable: &Variable) -> Option<Cow<'_, str>> {
        fn present(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        let first = || present(self.first_name.as_deref());
        let last = || present(self.last_name.as_deref());
        match variable {
            Variable::Builtin(Builtin::FirstName) => first().map(Cow::Borrowed),
            Variable::Builtin(Builtin::LastName) => last().map(Cow::Borrowed),
            Variable::Builtin(Builtin::FullName) => match (first(), last()) {
                (Some(f), Some(l)) => Some(Cow::Owned(format!("{f} {l}"))),
                (Some(one), None) | (None, Some(one)) => Some(Cow::Borrowed(one)),
                (None, None) => None,
            },
            Variable::Builtin(Builtin::ChannelName) => {
                present(Some(&self.channel_name)).map(Cow::Borrowed)
            }
            Variable::Attribute(key) => {
                present(self.attributes.get(key.as_str()).map(String::as_str)).map(Cow::Borrowed)
            }
            Variable::Messenger(m) => self.value(&Variable::Builtin(m.builtin())),
        }
    }
}

/// The text of a rendered template, and which variables had no value for this contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    text: String,
    missing: Vec<Variable>,
}

impl Rendered {
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }

    /// Variables the context had no value for (their fallback, or nothing, was used), in order of
    /// appearance — for previews such as "12 recipients have no first name".
    pub fn missing(&self) -> &[Variable] {
        &self.missing
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Template {
    /// Parses an ordinary message ([`TemplateKind::Message`]). Returns every error found, in
    /// source order.
    pub fn parse(text: &str) -> Result<Template, Vec<TemplateError>> {
        Template::parse_as(text, TemplateKind::Message)
    }

    /// Parses a text of the given kind; [`TemplateKind::MessengerGreeting`] also accepts
    /// Messenger's `user_*` placeholders.
    pub fn parse_as(text: &str, kind: TemplateKind) -> Result<Template, Vec<TemplateError>> {
        let mut segments = Vec::new();
        let mut errors = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            if rest.starts_with(OPEN) {
                let body_start = i + OPEN.len();
                let after = &text[body_start..];
                // Another `{{` before any `}}` means this one was never closed: report it and carry
                // on from the next, so `Hi {{first_name, see {{channel_name}}` gets one precise
                // error rather than one about the name `first_name, see {{channel_name`.
                // (Looking for whichever comes first keeps parsing linear: searching for each to
                // the end would be quadratic in a text of many unclosed `{{`.)
                let next = after
                    .as_bytes()
                    .windows(2)
                    .position(|w| w == OPEN.as_bytes() || w == CLOSE.as_bytes());
                let close = match next {
                    Some(at) if after[at..].starts_with(CLOSE) => at,
                    reopen => {
                        errors.push(TemplateError {
                            span: Span::new(i, body_start),
                            kind: TemplateErrorKind::Unclosed,
                        });
                        match reopen {
                            // Braces are ASCII, so `at` is a character boundary.
                            Some(at) => {
                                i = body_start + at;
                                continue;
                            }
                            None => break,
                        }
                    }
                };
                let body_end = body_start + close;
                match parse_placeholder(text, i, body_end, kind) {
                    Ok(p) => {
                        if !literal.is_empty() {
                            segments.push(Segment::Literal(std::mem::take(&mut literal)));
                        }
                        segments.push(Segment::Placeholder(p));
                    }
                    Err(e) => errors.push(e),
                }
                i = body_end + CLOSE.len();
            } else if rest.starts_with(CLOSE) {
                errors.push(TemplateError {
                    span: Span::new(i, i + CLOSE.len()),
                    kind: TemplateErrorKind::StrayClose,
                });
                i += CLOSE.len();
            } else {
                let c = rest.chars().next().expect("i < text.len()");
                literal.push(c);
                i += c.len_utf8();
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Template {
            source: text.to_owned(),
            kind,
            segments,
        })
    }

    /// Parses a text for the place `schema` describes (a greeting if it is
    /// [`Variables::messenger_greeting`]) and checks it against `schema`: what a composer calls.
    pub fn parse_checked(text: &str, schema: &Variables) -> Result<Template, Vec<TemplateError>> {
        let template = Template::parse_as(text, schema.template_kind())?;
        template.check(schema)?;
        Ok(template)
    }

    /// Reports every placeholder whose variable `schema` does not offer.
    pub fn check(&self, schema: &Variables) -> Result<(), Vec<TemplateError>> {
        let errors: Vec<TemplateError> = self
            .placeholders()
            .filter(|p| !schema.accepts(&p.variable))
            .map(|p| TemplateError {
                span: p.name_span,
                kind: TemplateErrorKind::UnknownVariable {
                    name: p.variable.to_string(),
                    suggestion: schema.suggest(&p.variable),
                },
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Fills the template in for one contact.
    ///
    /// A variable without a value uses its fallback; without a fallback it renders as nothing and
    /// the whitespace around it is tidied (`Hi {{first_name}}, thanks` → `Hi, thanks`). The output
    /// never contains `{{` or `}}` — braces coming from values are dropped where they would form
    /// one — except, in a greeting, Messenger's own placeholders, written out for Messenger.
    pub fn render(&self, ctx: &PersonalisationContext) -> Rendered {
        self.render_inner(ctx, true)
    }

    /// Renders as a chat message and re-checks the platform's limit, since values can make a text
    /// that fit when composed too long for some contacts.
    ///
    /// A chat has nobody to fill Messenger's greeting placeholders, so here they are filled from
    /// `ctx` like the built-ins with the same meaning.
    pub fn render_within(
        &self,
        ctx: &PersonalisationContext,
        kind: ChannelKind,
    ) -> Result<MessageText, TextError> {
        MessageText::parse(self.render_inner(ctx, false).as_str(), kind)
    }

    fn render_inner(&self, ctx: &PersonalisationContext, keep_messenger: bool) -> Rendered {
        let mut out = Writer::default();
        let mut missing = Vec::new();
        for segment in &self.segments {
            let p = match segment {
                Segment::Literal(text) => {
                    out.text(text);
                    continue;
                }
                Segment::Placeholder(p) => p,
            };
            if let Variable::Messenger(m) = p.variable
                && keep_messenger
            {
                out.messenger_token(m.token());
                continue;
            }
            match ctx.value(&p.variable) {
                Some(value) => out.text(&value),
                None => {
                    missing.push(p.variable.clone());
                    match p.fallback.as_deref() {
                        Some(fallback) if !fallback.is_empty() => out.text(fallback),
                        _ => out.gap(),
                    }
                }
            }
        }
        Rendered {
            text: out.finish(),
            missing,
        }
    }

    /// The variables used, in order of appearance, repeats included.
    pub fn variables(&self) -> impl Iterator<Item = &Variable> {
        self.placeholders().map(Placeholder::variable)
    }

    pub fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Placeholder(p) => Some(p),
            Segment::Literal(_) => None,
        })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The text as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn kind(&self) -> TemplateKind {
        self.kind
    }
}

/// Parses the placeholder `text[open..body_end + 2]`, whose body is `text[open + 2..body_end]`.
fn parse_placeholder(
    text: &str,
    open: usize,
    body_end: usize,
    kind: TemplateKind,
) -> Result<Placeholder, TemplateError> {
    let body_start = open + OPEN.len();
    let body = &text[body_start..body_end];
    let span = Span::new(open, body_end + CLOSE.len());
    let (raw_name, fallback) = match body.find('|') {
        Some(bar) => {
            let raw = &body[bar + 1..];
            let trimmed = raw.trim_end();
            let fallback_span = Span::new(body_start + bar, body_start + bar + 1 + trimmed.len());
            (&body[..bar], Some((trimmed.trim_start(), fallback_span)))
        }
        None => (body, None),
    };
    let name = raw_name.trim();
    let name_start = body_start + (raw_name.len() - raw_name.trim_start().len());
    let name_span = Span::new(name_start, name_start + name.len());
    if name.is_empty() {
        return Err(TemplateError {
            span,
            kind: TemplateErrorKind::EmptyName,
        });
    }
    let variable = parse_variable(name, kind).map_err(|kind| TemplateError {
        span: name_span,
        kind,
    })?;
    if let (Variable::Messenger(m), Some((_, fallback_span))) = (&variable, fallback) {
        return Err(TemplateError {
            span: fallback_span,
            kind: TemplateErrorKind::FallbackNotAllowed {
                name: m.name().to_owned(),
            },
        });
    }
    Ok(Placeholder {
        variable,
        fallback: fallback.map(|(f, _)| f.to_owned()),
        span,
        name_span,
    })
}

fn parse_variable(name: &str, kind: TemplateKind) -> Result<Variable, TemplateErrorKind> {
    let invalid = || TemplateErrorKind::InvalidName {
        name: name.to_owned(),
    };
    if let Some(key) = name.strip_prefix(ATTRIBUTE_PREFIX) {
        return AttributeKey::parse(key)
            .map(Variable::Attribute)
            .map_err(|_| invalid());
    }
    if !is_identifier(name) {
        return Err(invalid());
    }
    if let Some(b) = Builtin::from_name(name) {
        return Ok(Variable::Builtin(b));
    }
    let messenger = MessengerPlaceholder::from_name(name);
    if let (Some(m), TemplateKind::MessengerGreeting) = (messenger, kind) {
        return Ok(Variable::Messenger(m));
    }
    // `user_first_name` in a message means `first_name`; an unknown name nothing like a built-in
    // is most likely a custom attribute written without its prefix.
    let suggestion = match messenger {
        Some(m) => Some(m.builtin().name().to_owned()),
        None => {
            let greeting = MessengerPlaceholder::ALL
                .into_iter()
                .map(MessengerPlaceholder::name)
                .filter(|_| kind == TemplateKind::MessengerGreeting);
            let candidates = Builtin::ALL.into_iter().map(Builtin::name).chain(greeting);
            Some(
                closest(name, candidates)
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{ATTRIBUTE_PREFIX}{name}")),
            )
        }
    };
    Err(TemplateErrorKind::UnknownBuiltin {
        name: name.to_owned(),
        suggestion,
    })
}

/// `[a-z][a-z0-9_]*`
fn is_identifier(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The candidate within edit distance 2 of `name` (a typo, not a different word), nearest first.
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= 2)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// Builds rendered text, tidying around placeholders that rendered as nothing and keeping `{{`
/// and `}}` out of the result.
#[derive(Default)]
struct Writer {
    out: String,
    /// A placeholder just rendered as nothing; the next text decides how to close the gap.
    gap: bool,
}

impl Writer {
    fn gap(&mut self) {
        self.gap = true;
    }

    fn text(&mut self, text: &str) {
        let text = self.close_gap(text);
        for c in text.chars() {
            // Literals never hold `{{`/`}}`, but a contact's name or attribute can, and so can a
            // literal brace next to a value's brace: one brace of such a pair is dropped, so a
            // profile name like `{{x}}` cannot put template syntax in front of a customer.
            if (c == '{' || c == '}') && self.out.ends_with(c) {
                continue;
            }
            self.out.push(c);
        }
    }

    fn messenger_token(&mut self, token: &str) {
        let token = self.close_gap(token);
        // A value ending in `{` would turn `{{user_first_name}}` into `{{{user_first_name}}`.
        while self.out.ends_with('{') {
            self.out.pop();
        }
        self.out.push_str(token);
    }

    /// Tidies the join between the text before an empty placeholder and `next`, the text after it:
    /// no doubled space, no space before punctuation or at the end of a line, no comma opening a
    /// line. Returns what is left of `next` to write.
    fn close_gap<'t>(&mut self, next: &'t str) -> &'t str {
        if !self.gap {
            return next;
        }
        let at_line_start = self.out.is_empty() || self.out.ends_with('\n');
        let mut next = next;
        if at_line_start || self.out.ends_with(is_horizontal_space) {
            next = next.trim_start_matches(is_horizontal_space);
        }
        if at_line_start {
            // `{{first_name}}, your order shipped` → `your order shipped`, not `, your order…`.
            if let Some(rest) = next.strip_prefix(is_joining_punctuation) {
                next = rest.trim_start_matches(is_horizontal_space);
            }
        }
        match next.chars().next() {
            // Nothing left to join with (e.g. `{{first_name}} {{last_name}}`): keep the gap open.
            None => return next,
            Some(c) if is_closing_punctuation(c) || c == '\n' || c == '\r' => self.trim_end(),
            Some(_) => {}
        }
        self.gap = false;
        next
    }

    fn trim_end(&mut self) {
        let kept = self.out.trim_end_matches(is_horizontal_space).len();
        self.out.truncate(kept);
    }

    fn finish(mut self) -> String {
        if self.gap {
            self.trim_end();
        }
        self.out
    }
}

fn is_horizontal_space(c: char) -> bool {
    c.is_whitespace() && c != '\n' && c != '\r'
}

/// Punctuation that attaches to the word before it (Latin, Arabic, CJK full-width).
fn is_closing_punctuation(c: char) -> bool {
    matches!(
        c,
        ',' | '.'
            | '!'
            | '?'
            | ';'
            | ':'
            | ')'
            | ']'
            | '…'
            | '،'
            | '؛'
            | '؟'
            | '。'
            | '、'
            | '，'
            | '！'
            | '？'
            | '：'
            | '；'
            | '）'
    )
}

/// Punctuation that only joins a clause to what came before, meaningless at a line's start.
fn is_joining_punctuation(c: char) -> bool {
    matches!(c, ',' | ';' | ':' | '،' | '؛' | '、' | '，' | '；' | '：')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("frist_name", "first_name"), 2);
        assert_eq!(edit_distance("first_nam", "first_name"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("plan", "plan"), 0);
    }

    #[test]
    fn identifiers_are_lowercase_ascii() {
        assert!(is_identifier("a"));
        assert!(is_identifier("plan_2"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("2fa"));
        assert!(!is_identifier("_x"));
        assert!(!is_identifier("First"));
        assert!(!is_identifier("nàme"));
    }
}
