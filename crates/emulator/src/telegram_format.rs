//! Telegram's `parse_mode` handling, as the Bot API server does it: the visible text, and the
//! `MessageEntity` list a client library reads back (offsets and lengths in UTF-16 code units),
//! plus the entities Telegram finds by itself in any text (`url`, `email`, `mention`, `hashtag`,
//! `cashtag`, `bot_command`). Errors carry the real server's `can't parse entities` wording.
//!
//! Supported as documented (core.telegram.org/bots/api#formatting-options): HTML `b strong i em
//! u ins s strike del span.tg-spoiler tg-spoiler a code pre blockquote tg-emoji`, MarkdownV2
//! `*bold* _italic_ __underline__ ~strike~ ||spoiler|| `code` ```pre``` [text](url) >quote`, and
//! an explicit `entities` array instead of a parse mode.

use serde_json::{Value, json};

/// Text as the recipient sees it, with its entities (sorted by offset, outer before inner).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Formatted {
    pub text: String,
    pub entities: Vec<Value>,
}

/// Parses `raw` under `parse_mode` (or takes `explicit` entities when there is none), trims
/// the surrounding whitespace as Telegram does, and adds the automatic entities.
pub(crate) fn format(
    raw: &str,
    parse_mode: Option<&str>,
    explicit: Option<&Value>,
) -> Result<Formatted, String> {
    let mut parsed = match parse_mode.map(str::trim).filter(|m| !m.is_empty()) {
        None => Formatted {
            text: raw.to_owned(),
            entities: explicit_entities(explicit)?,
        },
        Some(m) if m.eq_ignore_ascii_case("html") => html(raw)?,
        Some("MarkdownV2") => markdown_v2(raw)?,
        Some(m) if m.eq_ignore_ascii_case("markdown") => legacy_markdown(raw),
        Some(_) => return Err("Bad Request: unsupported parse_mode".to_owned()),
    };
    trim(&mut parsed);
    parsed.entities.retain(|e| len_of(e) > 0);
    let automatic = automatic_entities(&parsed.text, &parsed.entities);
    parsed.entities.extend(automatic);
    parsed
        .entities
        .sort_by_key(|e| (offset_of(e), std::cmp::Reverse(len_of(e))));
    Ok(parsed)
}

/// Visible text only (limits are checked on it).
#[cfg(test)]
pub(crate) fn visible_text(raw: &str, parse_mode: Option<&str>) -> Result<String, String> {
    format(raw, parse_mode, None).map(|f| f.text)
}

fn offset_of(e: &Value) -> i64 {
    e["offset"].as_i64().unwrap_or(0)
}

fn len_of(e: &Value) -> i64 {
    e["length"].as_i64().unwrap_or(0)
}

fn utf16_len(s: &str) -> i64 {
    s.encode_utf16().count() as i64
}

fn entity(kind: &str, offset: i64, length: i64) -> Value {
    json!({ "type": kind, "offset": offset, "length": length })
}

/// Removes leading and trailing whitespace, moving and clipping entities with it.
fn trim(f: &mut Formatted) {
    let lead = utf16_len(&f.text[..f.text.len() - f.text.trim_start().len()]);
    let text = f.text.trim().to_owned();
    let end = utf16_len(&text);
    for e in &mut f.entities {
        let start = (offset_of(e) - lead).clamp(0, end);
        let stop = (offset_of(e) + len_of(e) - lead).clamp(0, end);
        e["offset"] = json!(start);
        e["length"] = json!(stop - start);
    }
    f.text = text;
}

const ENTITY_TYPES: &[&str] = &[
    "mention",
    "hashtag",
    "cashtag",
    "bot_command",
    "url",
    "email",
    "phone_number",
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "blockquote",
    "expandable_blockquote",
    "code",
    "pre",
    "text_link",
    "text_mention",
    "custom_emoji",
];

fn explicit_entities(explicit: Option<&Value>) -> Result<Vec<Value>, String> {
    let Some(v) = explicit else {
        return Ok(Vec::new());
    };
    let bad = || "Bad Request: can't parse entities JSON object".to_owned();
    let list = v.as_array().ok_or_else(bad)?;
    let mut out = Vec::with_capacity(list.len());
    for e in list {
        let kind = e["type"].as_str().ok_or_else(bad)?;
        let (Some(offset), Some(length)) = (e["offset"].as_i64(), e["length"].as_i64()) else {
            return Err(bad());
        };
        if offset < 0 || length < 0 {
            return Err(bad());
        }
        if !ENTITY_TYPES.contains(&kind) {
            continue;
        }
        if kind == "text_link" && e["url"].as_str().is_none_or(str::is_empty) {
            return Err("Bad Request: can't parse entities: text_link without url".to_owned());
        }
        out.push(e.clone());
    }
    Ok(out)
}

// ---- HTML ------------------------------------------------------------------------------------

struct Open {
    tag: String,
    start: i64,
    entity: Option<Value>,
}

fn html(raw: &str) -> Result<Formatted, String> {
    let mut text = String::with_capacity(raw.len());
    let mut pos = 0i64;
    let mut stack: Vec<Open> = Vec::new();
    let mut entities = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let tail = &raw[i..];
        let Some(c) = tail.chars().next() else { break };
        if c == '&' {
            let (decoded, used) = html_entity(tail);
            pos += utf16_len(&decoded);
            text.push_str(&decoded);
            i += used;
            continue;
        }
        if c != '<' {
            text.push(c);
            pos += c.len_utf16() as i64;
            i += c.len_utf8();
            continue;
        }
        let Some(end) = tail.find('>') else {
            return Err(format!(
                "Bad Request: can't parse entities: Unclosed start tag at byte offset {i}"
            ));
        };
        let inner = &tail[1..end];
        if let Some(name) = inner.strip_prefix('/') {
            let name = name.trim().to_ascii_lowercase();
            let Some(open) = stack.pop() else {
                return Err(format!(
                    "Bad Request: can't parse entities: Unexpected end tag at byte offset {i}"
                ));
            };
            if !name.is_empty() && name != open.tag {
                return Err(format!(
                    "Bad Request: can't parse entities: Unmatched end tag at byte offset {i}, expected \"</{}>\", found \"</{name}>\"",
                    open.tag
                ));
            }
            if let Some(mut e) = open.entity {
                e["offset"] = json!(open.start);
                e["length"] = json!(pos - open.start);
                entities.push(e);
            }
        } else {
            let name: String = inner
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect::<String>()
                .to_ascii_lowercase();
            let attrs = attributes(&inner[name.len()..]);
            let entity = html_entity_for(&name, &attrs, stack.last_mut(), i)?;
            stack.push(Open {
                tag: name,
                start: pos,
                entity,
            });
        }
        i += end + 1;
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{}\"",
            open.tag
        ));
    }
    Ok(Formatted { text, entities })
}

/// The entity a start tag opens (`None` for a tag that only modifies its parent, such as
/// `<code class="language-x">` inside `<pre>`).
fn html_entity_for(
    name: &str,
    attrs: &[(String, String)],
    parent: Option<&mut Open>,
    at: usize,
) -> Result<Option<Value>, String> {
    let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let kind = match name {
        "b" | "strong" => "bold",
        "i" | "em" => "italic",
        "u" | "ins" => "underline",
        "s" | "strike" | "del" => "strikethrough",
        "tg-spoiler" => "spoiler",
        "span" if attr("class") == Some("tg-spoiler") => "spoiler",
        "span" => {
            return Err(format!(
                "Bad Request: can't parse entities: Tag \"span\" must have class \"tg-spoiler\" at byte offset {at}"
            ));
        }
        "blockquote" if attr("expandable").is_some() => "expandable_blockquote",
        "blockquote" => "blockquote",
        "code" => {
            if let Some(parent) = parent.filter(|p| p.tag == "pre")
                && let Some(lang) = attr("class").and_then(|c| c.strip_prefix("language-"))
                && let Some(pre) = parent.entity.as_mut()
            {
                pre["language"] = json!(lang);
                return Ok(None);
            }
            "code"
        }
        "pre" => "pre",
        "a" => {
            let href = attr("href").unwrap_or_default();
            if let Some(id) = href.strip_prefix("tg://user?id=") {
                let id: i64 = id.parse().unwrap_or(0);
                return Ok(Some(json!({
                    "type": "text_mention",
                    "user": {"id": id, "is_bot": false, "first_name": ""},
                })));
            }
            if href.is_empty() {
                return Ok(None);
            }
            return Ok(Some(json!({ "type": "text_link", "url": href })));
        }
        "tg-emoji" => {
            let id = attr("emoji-id").unwrap_or_default();
            return Ok(Some(
                json!({ "type": "custom_emoji", "custom_emoji_id": id }),
            ));
        }
        _ => {
            return Err(format!(
                "Bad Request: can't parse entities: Unsupported start tag \"{name}\" at byte offset {at}"
            ));
        }
    };
    Ok(Some(json!({ "type": kind })))
}

/// `name="value"`, `name='value'`, `name=value` and bare `name` attributes, HTML-decoded.
fn attributes(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start().trim_end_matches('/');
    while !rest.is_empty() {
        let name_len = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let name = rest[..name_len].to_ascii_lowercase();
        rest = rest[name_len..].trim_start();
        let value = if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, used) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let close = after[1..].find(q).map_or(after.len(), |p| p + 1);
                    (&after[1..close], (close + 1).min(after.len()))
                }
                _ => {
                    let e = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..e], e)
                }
            };
            rest = after[used..].trim_start();
            decode_all(value)
        } else {
            String::new()
        };
        if name.is_empty() {
            break;
        }
        out.push((name, value));
    }
    out
}

fn decode_all(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let (decoded, used) = html_entity(&rest[i..]);
        out.push_str(&decoded);
        rest = &rest[i + used..];
    }
    out.push_str(rest);
    out
}

/// Decodes one `&...;` entity at the start of `s`; unknown ones stay as-is.
fn html_entity(s: &str) -> (String, usize) {
    let Some(semi) = s.find(';').filter(|&p| p <= 10) else {
        return ("&".to_owned(), 1);
    };
    let name = &s[1..semi];
    let decoded = match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "quot" => Some('"'),
        _ => name
            .strip_prefix("#x")
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
            .and_then(char::from_u32),
    };
    match decoded {
        Some(c) => (c.to_string(), semi + 1),
        None => ("&".to_owned(), 1),
    }
}

// ---- MarkdownV2 ------------------------------------------------------------------------------

fn markdown_v2(raw: &str) -> Result<Formatted, String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut text = String::with_capacity(raw.len());
    let mut pos = 0i64;
    let mut entities = Vec::new();
    // Open inline markers: (marker, start offset).
    let mut open: Vec<(&'static str, i64)> = Vec::new();
    let mut link_start: Option<i64> = None;
    let mut quote_start: Option<i64> = None;
    let mut line_start = true;
    let mut i = 0;
    let push = |text: &mut String, pos: &mut i64, c: char| {
        text.push(c);
        *pos += c.len_utf16() as i64;
    };
    while i < chars.len() {
        let c = chars[i];
        let at_line_start = line_start;
        line_start = false;
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                return Err(reserved('\\'));
            };
            push(&mut text, &mut pos, n);
            i += 2;
            continue;
        }
        if c == '\n' {
            if let Some(start) = quote_start.take() {
                // A quote runs to the end of its last `>` line.
                if chars.get(i + 1) == Some(&'>') {
                    quote_start = Some(start);
                } else {
                    entities.push(entity("blockquote", start, pos - start));
                }
            }
            push(&mut text, &mut pos, c);
            line_start = true;
            i += 1;
            continue;
        }
        if c == '>' && at_line_start {
            if quote_start.is_none() {
                quote_start = Some(pos);
            }
            i += 1;
            continue;
        }
        if c == '`' {
            let triple = chars.get(i..i + 3) == Some(&['`', '`', '`']);
            let (skip, closer): (usize, &[char]) = if triple {
                (3, &['`', '`', '`'])
            } else {
                (1, &['`'])
            };
            let body_start = i + skip;
            let Some(close) = (body_start..chars.len())
                .find(|&j| chars[j..].starts_with(closer) && (j == 0 || chars[j - 1] != '\\'))
            else {
                return Err(
                    "Bad Request: can't parse entities: Can't find end of Code entity at byte offset 0"
                        .to_owned(),
                );
            };
            let mut body: String = chars[body_start..close].iter().collect();
            let mut language = None;
            if triple && let Some(nl) = body.find('\n') {
                let first = body[..nl].trim();
                if !first.is_empty() && !first.contains(char::is_whitespace) {
                    language = Some(first.to_owned());
                }
                body = body[nl + 1..].to_owned();
            }
            let body = unescape_code(&body);
            let start = pos;
            for ch in body.chars() {
                push(&mut text, &mut pos, ch);
            }
            let mut e = entity(if triple { "pre" } else { "code" }, start, pos - start);
            if let Some(lang) = language {
                e["language"] = json!(lang);
            }
            entities.push(e);
            i = close + skip;
            continue;
        }
        if c == '[' {
            link_start = Some(pos);
            i += 1;
            continue;
        }
        if c == '!' && chars.get(i + 1) == Some(&'[') {
            // A custom emoji: ![👍](tg://emoji?id=...)
            i += 1;
            continue;
        }
        if c == ']' {
            let Some(start) = link_start.take() else {
                return Err(reserved(']'));
            };
            if chars.get(i + 1) == Some(&'(') {
                let close = (i + 2..chars.len())
                    .find(|&j| chars[j] == ')' && chars[j - 1] != '\\')
                    .ok_or_else(|| reserved('('))?;
                let url = unescape_code(&chars[i + 2..close].iter().collect::<String>());
                let e = if let Some(id) = url.strip_prefix("tg://emoji?id=") {
                    json!({"type": "custom_emoji", "offset": start, "length": pos - start, "custom_emoji_id": id})
                } else if let Some(id) = url.strip_prefix("tg://user?id=") {
                    json!({"type": "text_mention", "offset": start, "length": pos - start,
                        "user": {"id": id.parse::<i64>().unwrap_or(0), "is_bot": false, "first_name": ""}})
                } else {
                    json!({"type": "text_link", "offset": start, "length": pos - start, "url": url})
                };
                entities.push(e);
                i = close + 1;
            } else {
                i += 1;
            }
            continue;
        }
        let marker: Option<&'static str> = match c {
            '*' => Some("*"),
            '~' => Some("~"),
            '|' if chars.get(i + 1) == Some(&'|') => Some("||"),
            '_' if chars.get(i + 1) == Some(&'_') => Some("__"),
            '_' => Some("_"),
            _ => None,
        };
        if let Some(m) = marker {
            if let Some(k) = open.iter().rposition(|(o, _)| *o == m) {
                let (_, start) = open.remove(k);
                let kind = match m {
                    "*" => "bold",
                    "~" => "strikethrough",
                    "||" => "spoiler",
                    "__" => "underline",
                    _ => "italic",
                };
                entities.push(entity(kind, start, pos - start));
            } else {
                open.push((m, pos));
            }
            i += m.len();
            continue;
        }
        if "()>#+-={}.!|_".contains(c) {
            return Err(reserved(c));
        }
        push(&mut text, &mut pos, c);
        i += 1;
    }
    if let Some(start) = quote_start {
        entities.push(entity("blockquote", start, pos - start));
    }
    if let Some((m, _)) = open.first() {
        let kind = match *m {
            "*" => "Bold",
            "~" => "Strikethrough",
            "||" => "Spoiler",
            "__" => "Underline",
            _ => "Italic",
        };
        return Err(format!(
            "Bad Request: can't parse entities: Can't find end of {kind} entity at byte offset 0"
        ));
    }
    if link_start.is_some() {
        return Err(
            "Bad Request: can't parse entities: Can't find end of TextUrl entity at byte offset 0"
                .to_owned(),
        );
    }
    Ok(Formatted { text, entities })
}

/// Inside code and URLs only `` ` `` and `\` are escaped.
fn unescape_code(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(n) = chars.next()
        {
            out.push(n);
            continue;
        }
        out.push(c);
    }
    out
}

fn reserved(c: char) -> String {
    format!(
        "Bad Request: can't parse entities: Character '{c}' is reserved and must be escaped with the preceding '\\'"
    )
}

/// The legacy `Markdown` mode: `*bold*`, `_italic_`, `` `code` ``, `[text](url)`.
fn legacy_markdown(raw: &str) -> Formatted {
    let mut text = String::with_capacity(raw.len());
    let mut pos = 0i64;
    let mut entities = Vec::new();
    let mut open: Option<(char, i64)> = None;
    let mut link: Option<i64> = None;
    let chars: Vec<char> = raw.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' | '_' | '`' => match open {
                Some((m, start)) if m == c => {
                    let kind = match c {
                        '*' => "bold",
                        '_' => "italic",
                        _ => "code",
                    };
                    entities.push(entity(kind, start, pos - start));
                    open = None;
                }
                None => open = Some((c, pos)),
                Some(_) => {
                    text.push(c);
                    pos += 1;
                }
            },
            '[' => link = Some(pos),
            ']' if link.is_some() && chars.get(i + 1) == Some(&'(') => {
                let close = (i + 2..chars.len())
                    .find(|&j| chars[j] == ')')
                    .unwrap_or(chars.len());
                let url: String = chars[i + 2..close].iter().collect();
                let start = link.take().unwrap_or(pos);
                entities.push(
                    json!({"type": "text_link", "offset": start, "length": pos - start, "url": url}),
                );
                i = close + 1;
                continue;
            }
            _ => {
                text.push(c);
                pos += c.len_utf16() as i64;
            }
        }
        i += 1;
    }
    Formatted { text, entities }
}

// ---- Automatic entities -----------------------------------------------------------------------

/// The entities Telegram finds by itself in a text without formatting (a user's message).
pub(crate) fn automatic(text: &str) -> Vec<Value> {
    automatic_entities(text, &[])
}

/// The entities Telegram detects by itself: not inside code, pre, links or other detected ones.
fn automatic_entities(text: &str, existing: &[Value]) -> Vec<Value> {
    let blocked: Vec<(i64, i64)> = existing
        .iter()
        .filter(|e| {
            matches!(
                e["type"].as_str(),
                Some("code" | "pre" | "text_link" | "url" | "email" | "text_mention")
            )
        })
        .map(|e| (offset_of(e), offset_of(e) + len_of(e)))
        .collect();
    let mut out = Vec::new();
    // Byte index -> UTF-16 offset, computed as we go.
    let mut utf16_at = Vec::with_capacity(text.len() + 1);
    let mut u = 0i64;
    for (b, c) in text.char_indices() {
        while utf16_at.len() < b {
            utf16_at.push(u);
        }
        utf16_at.push(u);
        u += c.len_utf16() as i64;
    }
    while utf16_at.len() <= text.len() {
        utf16_at.push(u);
    }
    let mut i = 0;
    while i < text.len() {
        if !text.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let boundary_before = i == 0
            || text[..i]
                .chars()
                .next_back()
                .is_some_and(|c| !c.is_alphanumeric() && c != '_' && c != '/');
        let found = if boundary_before {
            detect_at(&text[i..])
        } else {
            None
        };
        match found {
            Some((kind, len)) => {
                let (start, end) = (utf16_at[i], utf16_at[i + len]);
                if !blocked.iter().any(|(s, e)| start < *e && *s < end) {
                    out.push(entity(kind, start, end - start));
                }
                i += len;
            }
            None => i += 1,
        }
    }
    out
}

/// An automatic entity starting exactly at the beginning of `s`: its type and byte length.
fn detect_at(s: &str) -> Option<(&'static str, usize)> {
    let word_len = |t: &str, extra: &[char]| {
        t.char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || *c == '_' || extra.contains(c)))
            .map_or(t.len(), |(i, _)| i)
    };
    let first = s.chars().next()?;
    match first {
        '@' => {
            // Usernames are ASCII letters, digits and underscores.
            let n = s[1..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            (n >= 4).then_some(("mention", n + 1))
        }
        '#' => {
            let n = word_len(&s[1..], &[]);
            (n >= 1 && !s[1..1 + n].chars().all(|c| c.is_ascii_digit()))
                .then_some(("hashtag", n + 1))
        }
        '$' => {
            let n = s[1..].bytes().take_while(u8::is_ascii_uppercase).count();
            ((1..=8).contains(&n) && !s[1 + n..].starts_with(|c: char| c.is_alphanumeric()))
                .then_some(("cashtag", n + 1))
        }
        '/' => {
            let n = s[1..]
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if n == 0 || n > 64 {
                return None;
            }
            let mut len = n + 1;
            if s[len..].starts_with('@') {
                let bot = word_len(&s[len + 1..], &[]);
                if bot >= 3 {
                    len += bot + 1;
                }
            }
            Some(("bot_command", len))
        }
        _ => detect_url_or_email(s),
    }
}

fn detect_url_or_email(s: &str) -> Option<(&'static str, usize)> {
    let end = s
        .find(|c: char| c.is_whitespace() || "<>\"'«»".contains(c))
        .unwrap_or(s.len());
    let mut candidate = &s[..end];
    // Trailing punctuation belongs to the sentence, not the link.
    while let Some(last) = candidate.chars().next_back() {
        if ".,;:!?)]}".contains(last) {
            candidate = &candidate[..candidate.len() - last.len_utf8()];
        } else {
            break;
        }
    }
    let lower = candidate.to_ascii_lowercase();
    let has_scheme = ["http://", "https://", "tg://", "ftp://"]
        .iter()
        .any(|p| lower.starts_with(p));
    if has_scheme {
        let rest = &candidate[candidate.find("://").map_or(0, |p| p + 3)..];
        return (!rest.is_empty()).then_some(("url", candidate.len()));
    }
    if let Some(at) = candidate.find('@') {
        let (user, domain) = (&candidate[..at], &candidate[at + 1..]);
        let ok_user = !user.is_empty()
            && user
                .chars()
                .all(|c| c.is_alphanumeric() || "._+-".contains(c));
        if ok_user && is_domain(domain) {
            return Some(("email", candidate.len()));
        }
        return None;
    }
    let host_end = candidate.find(['/', '?', '#']).unwrap_or(candidate.len());
    let host = candidate[..host_end].split(':').next().unwrap_or_default();
    (is_domain(host) && host.contains('.')).then_some(("url", candidate.len()))
}

/// `example.com`, `shop.example.co.uk`: labels of letters, digits and hyphens and a top-level
/// domain of at least two letters.
fn is_domain(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(char::is_alphabetic))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entities(raw: &str, mode: Option<&str>) -> Vec<(String, i64, i64)> {
        format(raw, mode, None)
            .unwrap()
            .entities
            .iter()
            .map(|e| {
                (
                    e["type"].as_str().unwrap().to_owned(),
                    offset_of(e),
                    len_of(e),
                )
            })
            .collect()
    }

    fn e(kind: &str, offset: i64, length: i64) -> (String, i64, i64) {
        (kind.to_owned(), offset, length)
    }

    #[test]
    fn html_and_markdown() {
        assert_eq!(
            visible_text("<b>hi</b> &amp; <a href=\"x\">y</a>", Some("HTML")).as_deref(),
            Ok("hi & y")
        );
        assert!(visible_text("<div>x</div>", Some("HTML")).is_err());
        assert_eq!(
            visible_text("*bold* a\\.b [l](http://x.y)", Some("MarkdownV2")).as_deref(),
            Ok("bold a.b l")
        );
        assert!(visible_text("Price: 5.00", Some("MarkdownV2")).is_err());
        assert_eq!(visible_text("5.00", None).as_deref(), Ok("5.00"));
    }

    #[test]
    fn html_entities_with_nesting_links_and_code_languages() {
        let f = format(
            "<b>bold <i>both</i></b> <a href=\"https://x.test/?a=1&amp;b=2\">link</a> \
             <pre><code class=\"language-rust\">fn main()</code></pre>",
            Some("HTML"),
            None,
        )
        .unwrap();
        assert_eq!(f.text, "bold both link fn main()");
        assert_eq!(
            f.entities[0],
            json!({"type": "bold", "offset": 0, "length": 9})
        );
        assert_eq!(
            f.entities[1],
            json!({"type": "italic", "offset": 5, "length": 4})
        );
        assert_eq!(
            f.entities[2],
            json!({"type": "text_link", "offset": 10, "length": 4, "url": "https://x.test/?a=1&b=2"})
        );
        assert_eq!(
            f.entities[3],
            json!({"type": "pre", "offset": 15, "length": 9, "language": "rust"})
        );
        let err = format("<b>x</i>", Some("HTML"), None).unwrap_err();
        assert!(err.contains("Unmatched end tag"), "{err}");
        let err = format("<b>x", Some("HTML"), None).unwrap_err();
        assert!(err.contains("Can't find end tag"), "{err}");
    }

    #[test]
    fn offsets_count_utf16_code_units_for_emoji_and_arabic() {
        // 👋 is two UTF-16 units; Arabic letters one each.
        assert_eq!(
            entities("👋 <b>مرحبا</b> 🎉<i>x</i>", Some("HTML")),
            [e("bold", 3, 5), e("italic", 11, 1)]
        );
        assert_eq!(
            entities("👋👋 *مرحبا* _x_", Some("MarkdownV2")),
            [e("bold", 5, 5), e("italic", 11, 1)]
        );
    }

    #[test]
    fn markdown_v2_entities() {
        let f = format(
            "*b* _i_ __u__ ~s~ ||sp|| `c` [t](https://a.test) \\*not\\*",
            Some("MarkdownV2"),
            None,
        )
        .unwrap();
        assert_eq!(f.text, "b i u s sp c t *not*");
        let kinds: Vec<_> = f
            .entities
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "bold",
                "italic",
                "underline",
                "strikethrough",
                "spoiler",
                "code",
                "text_link"
            ]
        );
        let f = format("```python\nprint(1)\n```", Some("MarkdownV2"), None).unwrap();
        assert_eq!(f.text, "print(1)");
        assert_eq!(f.entities[0]["language"], "python");
        let f = format(">quoted\n>more\nafter", Some("MarkdownV2"), None).unwrap();
        assert_eq!(f.text, "quoted\nmore\nafter");
        assert_eq!(
            f.entities[0],
            json!({"type": "blockquote", "offset": 0, "length": 11})
        );
        assert!(format("*open", Some("MarkdownV2"), None).is_err());
    }

    #[test]
    fn automatic_entities_in_plain_text() {
        assert_eq!(
            entities(
                "See https://shop.test/a?b=1, mail me@shop.test, ask @support_team #sale $USD /start@shop_bot.",
                None
            ),
            [
                e("url", 4, 23),
                e("email", 34, 12),
                e("mention", 52, 13),
                e("hashtag", 66, 5),
                e("cashtag", 72, 4),
                e("bot_command", 77, 15),
            ]
        );
        assert_eq!(entities("shop.test/x and 5.00", None), [e("url", 0, 11)]);
        // Not inside code, and not a second time inside a link.
        assert_eq!(
            entities(
                "<code>https://a.test</code> <a href=\"https://b.test\">https://b.test</a>",
                Some("HTML")
            ),
            [e("code", 0, 14), e("text_link", 15, 14)]
        );
        assert!(entities("#123 a@b", None).is_empty());
    }

    #[test]
    fn surrounding_whitespace_is_trimmed_and_entities_move_with_it() {
        let f = format("  <b>hi</b>  ", Some("HTML"), None).unwrap();
        assert_eq!(f.text, "hi");
        assert_eq!(
            f.entities[0],
            json!({"type": "bold", "offset": 0, "length": 2})
        );
    }

    #[test]
    fn explicit_entities_are_kept_and_checked() {
        let list = json!([{"type": "bold", "offset": 0, "length": 2}]);
        let f = format("hi there", None, Some(&list)).unwrap();
        assert_eq!(
            f.entities,
            vec![json!({"type": "bold", "offset": 0, "length": 2})]
        );
        assert!(format("hi", None, Some(&json!({"type": "bold"}))).is_err());
    }
}
