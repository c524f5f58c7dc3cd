//! Just enough of Telegram's `parse_mode` handling to measure the visible text
//! (limits apply after entity parsing) and to reject what the real server
//! rejects most often: unsupported HTML tags and unescaped MarkdownV2
//! reserved characters.

/// Visible text after parsing, or the `can't parse entities` description.
pub(crate) fn visible_text(raw: &str, parse_mode: Option<&str>) -> Result<String, String> {
    match parse_mode.map(str::trim).filter(|m| !m.is_empty()) {
        None => Ok(raw.to_owned()),
        Some(m) if m.eq_ignore_ascii_case("html") => html(raw),
        Some("MarkdownV2") => markdown_v2(raw),
        Some(m) if m.eq_ignore_ascii_case("markdown") => Ok(raw.replace(['*', '_', '`', '['], "")),
        Some(_) => Err("Bad Request: unsupported parse_mode".to_owned()),
    }
}

const HTML_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-emoji",
    "br",
];

fn html(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    let mut offset = 0;
    while let Some(i) = rest.find(['<', '&']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with('&') {
            let (decoded, used) = html_entity(tail);
            out.push_str(&decoded);
            rest = &tail[used..];
            offset += i + used;
            continue;
        }
        let Some(end) = tail.find('>') else {
            return Err(format!(
                "Bad Request: can't parse entities: Unclosed start tag at byte offset {}",
                offset + i
            ));
        };
        let inner = tail[1..end].trim_start_matches('/');
        let name: String = inner
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        if !HTML_TAGS.contains(&name.as_str()) {
            return Err(format!(
                "Bad Request: can't parse entities: Unsupported start tag \"{name}\" at byte offset {}",
                offset + i
            ));
        }
        rest = &tail[end + 1..];
        offset += i + end + 1;
    }
    out.push_str(rest);
    Ok(out)
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

fn markdown_v2(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let chars: Vec<char> = raw.chars().collect();
    let (mut in_code, mut in_pre, mut in_url) = (false, false, false);
    let mut line_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let was_line_start = line_start;
        line_start = c == '\n';
        if c == '\\' {
            if let Some(&n) = chars.get(i + 1) {
                if !in_url {
                    out.push(n);
                }
                i += 2;
                continue;
            }
            return Err(reserved('\\'));
        }
        let triple = chars.get(i..i + 3) == Some(&['`', '`', '`']);
        if in_pre {
            if triple {
                in_pre = false;
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
            continue;
        }
        if in_code {
            if c == '`' {
                in_code = false;
            } else {
                out.push(c);
            }
            i += 1;
            continue;
        }
        if in_url {
            if c == ')' {
                in_url = false;
            }
            i += 1;
            continue;
        }
        match c {
            '`' if triple => {
                in_pre = true;
                i += 3;
                continue;
            }
            '`' => in_code = true,
            '*' | '_' | '~' | '|' | '[' => {}
            ']' if chars.get(i + 1) == Some(&'(') => {
                in_url = true;
                i += 2;
                continue;
            }
            ']' => {}
            '>' if was_line_start => {}
            '!' if chars.get(i + 1) == Some(&'[') => {}
            '(' | ')' | '>' | '#' | '+' | '-' | '=' | '{' | '}' | '.' | '!' => {
                return Err(reserved(c));
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

fn reserved(c: char) -> String {
    format!(
        "Bad Request: can't parse entities: Character '{c}' is reserved and must be escaped with the preceding '\\'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
