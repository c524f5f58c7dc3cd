//! Request parameter decoding shared by both platforms: query string, JSON,
//! urlencoded form and multipart bodies all end up as one JSON object, which
//! is also what the call log records.

use serde_json::{Map, Value};

/// How urlencoded/multipart text values are interpreted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Graph form fields carry JSON strings (`recipient={"id":".."}`): decode
    /// values that look like JSON objects or arrays.
    Graph,
    /// The Bot API keeps form values as strings; methods parse the fields that
    /// are JSON-serialised (`reply_markup`, `allowed_updates`).
    Telegram,
}

/// The bytes of a request's uploaded files, by [`upload_key`].
pub(crate) type Uploads = std::collections::HashMap<String, bytes::Bytes>;

/// Query parameters first, then body fields (body wins on conflicts). File parts of a multipart
/// body become `{"upload":true,"filename":..,"content_type":..,"size":..,"sha256":..}`; their
/// bytes go to `uploads` when the caller keeps them, so the call log stays small.
pub(crate) fn parse(
    query: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
    mode: Mode,
    uploads: Option<&mut Uploads>,
) -> Result<Map<String, Value>, String> {
    let mut map = Map::new();
    if let Some(q) = query {
        add_form(&mut map, q.as_bytes(), mode);
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(map);
    }
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.starts_with("multipart/form-data") {
        let boundary = content_type
            .and_then(|c| header_param(c, "boundary"))
            .ok_or_else(|| "multipart body without boundary".to_owned())?;
        parse_multipart(body, &boundary, mode, &mut map, uploads)?;
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        add_form(&mut map, body, mode);
    } else if ct.contains("json") || first_non_ws(body) == Some(b'{') {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(obj)) => map.extend(obj),
            Ok(_) => return Err("JSON body must be an object".to_owned()),
            Err(e) => return Err(format!("can't parse JSON body: {e}")),
        }
    } else {
        add_form(&mut map, body, mode);
    }
    Ok(map)
}

fn first_non_ws(b: &[u8]) -> Option<u8> {
    b.iter().copied().find(|c| !c.is_ascii_whitespace())
}

fn add_form(map: &mut Map<String, Value>, data: &[u8], mode: Mode) {
    for (k, v) in form_urlencoded::parse(data) {
        map.insert(k.into_owned(), text_value(&v, mode));
    }
}

fn text_value(v: &str, mode: Mode) -> Value {
    if mode == Mode::Graph {
        let t = v.trim_start();
        if (t.starts_with('{') || t.starts_with('['))
            && let Ok(parsed) = serde_json::from_str::<Value>(v)
        {
            return parsed;
        }
    }
    Value::String(v.to_owned())
}

/// `name="value"` parameter of a header such as Content-Type or
/// Content-Disposition (case-insensitive name, optional quotes).
pub(crate) fn header_param(header: &str, name: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case(name) {
            Some(v.trim().trim_matches('"').to_owned())
        } else {
            None
        }
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// One part of a multipart body.
struct Part<'a> {
    name: Option<String>,
    filename: Option<String>,
    content_type: Option<String>,
    content: &'a [u8],
}

/// Minimal RFC 7578 reader: enough for what HTTP clients send.
fn multipart_parts<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, String> {
    let delim = format!("--{boundary}");
    let next_delim = format!("\r\n--{boundary}");
    let mut parts = Vec::new();
    let mut pos = find(body, delim.as_bytes(), 0).ok_or("multipart boundary not found")?;
    pos += delim.len();
    loop {
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        if body[pos..].starts_with(b"\r\n") {
            pos += 2;
        }
        let end = find(body, next_delim.as_bytes(), pos).ok_or("unterminated multipart part")?;
        let part = &body[pos..end];
        let split = find(part, b"\r\n\r\n", 0).ok_or("multipart part without headers")?;
        let headers = String::from_utf8_lossy(&part[..split]);
        let mut p = Part {
            name: None,
            filename: None,
            content_type: None,
            content: &part[split + 4..],
        };
        for line in headers.split("\r\n") {
            let Some((h, v)) = line.split_once(':') else {
                continue;
            };
            if h.trim().eq_ignore_ascii_case("content-disposition") {
                p.name = header_param(v, "name");
                p.filename = header_param(v, "filename");
            } else if h.trim().eq_ignore_ascii_case("content-type") {
                p.content_type = Some(v.trim().to_owned());
            }
        }
        parts.push(p);
        pos = end + next_delim.len();
    }
}

fn parse_multipart(
    body: &[u8],
    boundary: &str,
    mode: Mode,
    map: &mut Map<String, Value>,
    mut uploads: Option<&mut Uploads>,
) -> Result<(), String> {
    for part in multipart_parts(body, boundary)? {
        let Some(name) = part.name else { continue };
        let value = match part.filename {
            Some(f) => {
                let key = upload_key(part.content);
                if let Some(uploads) = uploads.as_deref_mut() {
                    uploads.insert(key.clone(), bytes::Bytes::copy_from_slice(part.content));
                }
                serde_json::json!({
                    "upload": true,
                    "filename": f,
                    "content_type": part.content_type,
                    "size": part.content.len(),
                    "sha256": key,
                })
            }
            None => text_value(&String::from_utf8_lossy(part.content), mode),
        };
        map.insert(name, value);
    }
    Ok(())
}

/// The key an upload's bytes are kept under (see [`Uploads`]).
pub(crate) fn upload_key(content: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(content))
}

pub(crate) fn is_upload(v: &Value) -> bool {
    v.get("upload").and_then(Value::as_bool) == Some(true)
}

/// Decodes `%XX` escapes in a path segment (Telegram tokens contain `:`, which
/// some clients escape).
pub(crate) fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex_val(b[i + 1]), hex_val(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

// ---- typed getters (Bot API style: values may be strings or JSON scalars) ----

pub(crate) fn get_str(map: &Map<String, Value>, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

pub(crate) fn get_i64(map: &Map<String, Value>, key: &str) -> Option<Result<i64, ()>> {
    match map.get(key)? {
        Value::Number(n) => Some(n.as_i64().ok_or(())),
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.trim().parse::<i64>().map_err(|_| ())),
        Value::Null => None,
        _ => Some(Err(())),
    }
}

pub(crate) fn get_bool(map: &Map<String, Value>, key: &str) -> bool {
    match map.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes"),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0) != 0,
        _ => false,
    }
}

/// A field that is JSON either natively or as a serialised string.
pub(crate) fn get_json(map: &Map<String, Value>, key: &str) -> Option<Result<Value, ()>> {
    match map.get(key)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(serde_json::from_str(s).map_err(|_| ())),
        Value::Null => None,
        other => Some(Ok(other.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_form_values_are_json() {
        let m = parse(
            Some("access_token=abc"),
            Some("application/x-www-form-urlencoded"),
            b"recipient=%7B%22id%22%3A%221%22%7D&messaging_type=RESPONSE",
            Mode::Graph,
            None,
        )
        .expect("parses");
        assert_eq!(m["recipient"]["id"], "1");
        assert_eq!(m["access_token"], "abc");
        assert_eq!(m["messaging_type"], "RESPONSE");
    }

    #[test]
    fn multipart_fields_and_files() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n--XX\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\x01\x02\x03\r\n--XX--\r\n";
        let m = parse(
            None,
            Some("multipart/form-data; boundary=XX"),
            body,
            Mode::Telegram,
            None,
        )
        .expect("parses");
        assert_eq!(m["chat_id"], "42");
        assert!(is_upload(&m["photo"]));
        assert_eq!(m["photo"]["size"], 3);
    }

    #[test]
    fn bad_json_is_an_error_not_a_panic() {
        assert!(parse(None, Some("application/json"), b"{nope", Mode::Graph, None).is_err());
        assert!(parse(None, Some("application/json"), b"[1]", Mode::Graph, None).is_err());
        assert_eq!(percent_decode("12%3Aab%zz"), "12:ab%zz");
    }
}
