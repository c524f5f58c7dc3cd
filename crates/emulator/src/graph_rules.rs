//! Graph API error shape and the Send API / Messenger Profile API limits
//! (protocols.md A7, A12, A15, A17).

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::state::{ALNUM, random_string};

/// A Graph API error. `status` is the HTTP status; Graph answers almost
/// everything with 400, including 190 (we chose 400 over 401 for 190, as
/// graph.facebook.com does, so clients cannot key on 401).
#[derive(Debug, Clone)]
pub(crate) struct GraphErr {
    pub status: u16,
    pub code: i64,
    pub subcode: Option<i64>,
    pub message: String,
}

impl GraphErr {
    pub fn new(code: i64, subcode: Option<i64>, message: impl Into<String>) -> Self {
        GraphErr {
            status: 400,
            code,
            subcode,
            message: message.into(),
        }
    }

    /// `(#100) <what>` invalid-parameter error.
    pub fn param(what: impl std::fmt::Display) -> Self {
        GraphErr::new(100, None, format!("(#100) {what}"))
    }

    pub fn no_object(id: &str) -> Self {
        GraphErr::new(
            100,
            Some(33),
            format!(
                "Unsupported request - method type: get. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
            ),
        )
    }

    pub fn body(&self) -> Value {
        error_body(&self.message, self.code, self.subcode)
    }
}

pub(crate) fn error_body(message: &str, code: i64, subcode: Option<i64>) -> Value {
    let mut err = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": random_string(11, ALNUM),
    });
    if let Some(s) = subcode {
        err["error_subcode"] = json!(s);
    }
    // Transient codes carry is_transient like Graph does.
    if matches!(code, 1 | 2) {
        err["is_transient"] = json!(true);
    }
    json!({ "error": err })
}

type R<T = ()> = Result<T, GraphErr>;

static EMPTY: Vec<Value> = Vec::new();

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn max_len(v: Option<&Value>, max: usize, path: &str) -> R {
    match v {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if chars(s) <= max => Ok(()),
        Some(Value::String(_)) => Err(GraphErr::param(format_args!(
            "Length of param {path} must be less than or equal to {max}"
        ))),
        Some(_) => Err(GraphErr::param(format_args!(
            "Param {path} must be a string"
        ))),
    }
}

fn required_str<'a>(v: &'a Value, key: &str, path: &str) -> R<&'a str> {
    match v.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(GraphErr::param(format_args!(
            "The parameter {path}[{key}] is required"
        ))),
    }
}

fn array<'a>(v: Option<&'a Value>, path: &str) -> R<Option<&'a Vec<Value>>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(_) => Err(GraphErr::param(format_args!(
            "Param {path} must be an array"
        ))),
    }
}

fn at_most(a: &[Value], max: usize, path: &str) -> R {
    if a.len() > max {
        Err(GraphErr::param(format_args!(
            "Param {path} must have at most {max} elements"
        )))
    } else {
        Ok(())
    }
}

/// What the handler needs to know about a valid `message`.
pub(crate) struct MessageInfo {
    /// An attachment with `is_reusable: true`: the reply carries an
    /// `attachment_id`.
    pub reusable: bool,
}

/// `upload`: the request carries the attachment's file as a multipart `filedata` part, so
/// `message[attachment][payload]` needs no `url` or `attachment_id`.
pub(crate) fn validate_message(
    msg: &Value,
    attachments: &HashSet<String>,
    upload: bool,
) -> R<MessageInfo> {
    if !msg.is_object() {
        return Err(GraphErr::param("Param message must be a JSON object"));
    }
    let text = msg.get("text");
    let attachment = msg.get("attachment").filter(|v| !v.is_null());
    let multi = array(msg.get("attachments"), "message[attachments]")?;
    let has_text = match text {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => {
            return Err(GraphErr::param(
                "Param message[text] must be a UTF-8 encoded string",
            ));
        }
    };
    if !has_text && attachment.is_none() && multi.is_none_or(|a| a.is_empty()) {
        return Err(GraphErr::param(
            "Message cannot be empty, must provide valid attachment or text",
        ));
    }
    if has_text && (attachment.is_some() || multi.is_some()) {
        return Err(GraphErr::param(
            "Only one of message[text] or message[attachment] may be specified",
        ));
    }
    max_len(text, 2000, "message[text]")?;
    if let Some(m) = msg.get("metadata") {
        match m {
            Value::String(s) if chars(s) < 1000 => {}
            Value::String(_) => {
                return Err(GraphErr::param(
                    "Length of param message[metadata] must be less than 1000",
                ));
            }
            _ => return Err(GraphErr::param("Param message[metadata] must be a string")),
        }
    }
    if let Some(qrs) = array(msg.get("quick_replies"), "message[quick_replies]")? {
        at_most(qrs, 13, "message[quick_replies]")?;
        for (i, qr) in qrs.iter().enumerate() {
            validate_quick_reply(qr, i)?;
        }
    }
    let mut reusable = false;
    if let Some(a) = attachment {
        reusable = validate_attachment(a, attachments, "message[attachment]", upload)?;
    }
    if let Some(list) = multi {
        at_most(list, 30, "message[attachments]")?;
        for (i, a) in list.iter().enumerate() {
            if a.get("type").and_then(Value::as_str) != Some("image") {
                return Err(GraphErr::param(format_args!(
                    "message[attachments][{i}] must be an image; only images may be sent as a group"
                )));
            }
            validate_attachment(a, attachments, &format!("message[attachments][{i}]"), false)?;
        }
    }
    Ok(MessageInfo { reusable })
}

fn validate_quick_reply(qr: &Value, i: usize) -> R {
    let path = format!("message[quick_replies][{i}]");
    match qr.get("content_type").and_then(Value::as_str) {
        Some("text") => {
            if qr
                .get("title")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
                && qr.get("image_url").is_none()
            {
                return Err(GraphErr::param(format_args!(
                    "The parameter {path}[title] is required"
                )));
            }
            max_len(qr.get("title"), 20, &format!("{path}[title]"))?;
            required_str(qr, "payload", &path)?;
            max_len(qr.get("payload"), 1000, &format!("{path}[payload]"))
        }
        Some("user_phone_number" | "user_email") => Ok(()),
        Some(other) => Err(GraphErr::param(format_args!(
            "Param {path}[content_type] has an invalid value: {other}"
        ))),
        None => Err(GraphErr::param(format_args!(
            "The parameter {path}[content_type] is required"
        ))),
    }
}

/// Returns whether the attachment asked to be reusable.
fn validate_attachment(a: &Value, known: &HashSet<String>, path: &str, upload: bool) -> R<bool> {
    let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
    let payload = a.get("payload").filter(|p| p.is_object()).ok_or_else(|| {
        GraphErr::param(format_args!("The parameter {path}[payload] is required"))
    })?;
    match kind {
        "image" | "audio" | "video" | "file" => {
            let names_a_source =
                payload.get("url").is_some() || payload.get("attachment_id").is_some();
            if !upload || names_a_source {
                validate_media_source(payload, known, &format!("{path}[payload]"))?;
            }
            Ok(
                matches!(payload.get("is_reusable"), Some(Value::Bool(true)))
                    || payload.get("is_reusable").and_then(Value::as_str) == Some("true"),
            )
        }
        "template" => validate_template(payload, known, &format!("{path}[payload]")).map(|_| false),
        "" => Err(GraphErr::param(format_args!(
            "The parameter {path}[type] is required"
        ))),
        other => Err(GraphErr::param(format_args!(
            "Param {path}[type] must be one of {{image, audio, video, file, template}}, got {other}"
        ))),
    }
}

fn validate_media_source(payload: &Value, known: &HashSet<String>, path: &str) -> R {
    if let Some(id) = payload.get("attachment_id") {
        let id = match id {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        if known.contains(&id) {
            return Ok(());
        }
        return Err(GraphErr::new(
            100,
            Some(2018074),
            "(#100) Attachment ID is invalid or does not belong to this Page",
        ));
    }
    match payload.get("url").and_then(Value::as_str) {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => Ok(()),
        Some(_) => Err(GraphErr::new(
            100,
            Some(2018008),
            "(#100) Failed to fetch the file from the url",
        )),
        None => Err(GraphErr::param(format_args!(
            "{path} requires url or attachment_id"
        ))),
    }
}

fn validate_template(p: &Value, known: &HashSet<String>, path: &str) -> R {
    let kind = p
        .get("template_type")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            GraphErr::param(format_args!(
                "The parameter {path}[template_type] is required"
            ))
        })?;
    match kind {
        "button" => {
            required_str(p, "text", path)?;
            max_len(p.get("text"), 640, &format!("{path}[text]"))?;
            let buttons = array(p.get("buttons"), &format!("{path}[buttons]"))?
                .filter(|b| !b.is_empty())
                .ok_or_else(|| {
                    GraphErr::param(format_args!("{path}[buttons] must have 1 to 3 elements"))
                })?;
            validate_buttons(buttons, &format!("{path}[buttons]"))
        }
        "generic" => {
            let elements = array(p.get("elements"), &format!("{path}[elements]"))?
                .filter(|e| !e.is_empty())
                .ok_or_else(|| {
                    GraphErr::param(format_args!("The parameter {path}[elements] is required"))
                })?;
            at_most(elements, 10, &format!("{path}[elements]"))?;
            for (i, e) in elements.iter().enumerate() {
                let ep = format!("{path}[elements][{i}]");
                required_str(e, "title", &ep)?;
                max_len(e.get("title"), 80, &format!("{ep}[title]"))?;
                max_len(e.get("subtitle"), 80, &format!("{ep}[subtitle]"))?;
                let has_other = ["subtitle", "image_url", "default_action", "buttons"]
                    .iter()
                    .any(|k| e.get(*k).is_some_and(|v| !v.is_null()));
                if !has_other {
                    return Err(GraphErr::param(
                        "Incomplete element data: title and at least one other field (image url, subtitle or buttons) is required with non-empty value",
                    ));
                }
                if let Some(b) = array(e.get("buttons"), &format!("{ep}[buttons]"))? {
                    validate_buttons(b, &format!("{ep}[buttons]"))?;
                }
            }
            Ok(())
        }
        "media" => {
            let elements = array(p.get("elements"), &format!("{path}[elements]"))?
                .filter(|e| e.len() == 1)
                .ok_or_else(|| {
                    GraphErr::param(format_args!("{path}[elements] must have exactly 1 element"))
                })?;
            let e = &elements[0];
            let ep = format!("{path}[elements][0]");
            match e.get("media_type").and_then(Value::as_str) {
                Some("image" | "video") => {}
                _ => {
                    return Err(GraphErr::param(format_args!(
                        "{ep}[media_type] must be image or video"
                    )));
                }
            }
            validate_media_source(e, known, &ep)?;
            if let Some(b) = array(e.get("buttons"), &format!("{ep}[buttons]"))? {
                validate_buttons(b, &format!("{ep}[buttons]"))?;
            }
            Ok(())
        }
        "receipt" => {
            for key in [
                "recipient_name",
                "order_number",
                "currency",
                "payment_method",
            ] {
                required_str(p, key, path)?;
            }
            if p.get("summary").and_then(|s| s.get("total_cost")).is_none() {
                return Err(GraphErr::param(format_args!(
                    "The parameter {path}[summary][total_cost] is required"
                )));
            }
            if let Some(e) = array(p.get("elements"), &format!("{path}[elements]"))? {
                at_most(e, 100, &format!("{path}[elements]"))?;
            }
            Ok(())
        }
        "one_time_notif_req" => max_len(p.get("title"), 65, &format!("{path}[title]")),
        "image_grid" | "product" | "coupon" | "customer_feedback" | "notification_messages" => {
            Ok(())
        }
        other => Err(GraphErr::param(format_args!(
            "Param {path}[template_type] has an invalid value: {other}"
        ))),
    }
}

fn validate_buttons(buttons: &[Value], path: &str) -> R {
    at_most(buttons, 3, path)?;
    for (i, b) in buttons.iter().enumerate() {
        validate_button(b, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

fn validate_button(b: &Value, path: &str) -> R {
    let kind = b.get("type").and_then(Value::as_str).unwrap_or("");
    max_len(b.get("title"), 20, &format!("{path}[title]"))?;
    match kind {
        "web_url" => {
            required_str(b, "title", path)?;
            required_str(b, "url", path).map(|_| ())
        }
        "postback" => {
            required_str(b, "title", path)?;
            required_str(b, "payload", path)?;
            max_len(b.get("payload"), 1000, &format!("{path}[payload]"))
        }
        "phone_number" => {
            required_str(b, "title", path)?;
            let p = required_str(b, "payload", path)?;
            if p.starts_with('+') {
                Ok(())
            } else {
                Err(GraphErr::param(format_args!(
                    "{path}[payload] must be a phone number in the format +<country code><number>"
                )))
            }
        }
        "account_link" => required_str(b, "url", path).map(|_| ()),
        "account_unlink" | "game_play" | "audio_call" | "element_share" => Ok(()),
        "" => Err(GraphErr::param(format_args!(
            "The parameter {path}[type] is required"
        ))),
        other => Err(GraphErr::param(format_args!(
            "Param {path}[type] has an invalid value: {other}"
        ))),
    }
}

// ---- Messenger Profile API ------------------------------------------------

pub(crate) const PROFILE_FIELDS: &[&str] = &[
    "get_started",
    "greeting",
    "persistent_menu",
    "ice_breakers",
    "whitelisted_domains",
    "account_linking_url",
    "commands",
    "title",
    "description",
];

/// Validates the properties of one `POST /me/messenger_profile`.
/// `has_get_started` = already stored or present in this request.
pub(crate) fn validate_profile(props: &serde_json::Map<String, Value>, has_get_started: bool) -> R {
    if props.is_empty() {
        return Err(GraphErr::param(format_args!(
            "Requires one of the params: {}",
            PROFILE_FIELDS.join(",")
        )));
    }
    for (k, v) in props {
        match k.as_str() {
            "get_started" => {
                required_str(v, "payload", "get_started")?;
                max_len(v.get("payload"), 1000, "get_started[payload]")?;
            }
            "greeting" => {
                let list = array(Some(v), "greeting")?.unwrap_or(&EMPTY);
                for (i, g) in list.iter().enumerate() {
                    required_str(g, "locale", &format!("greeting[{i}]"))?;
                    max_len(g.get("text"), 160, &format!("greeting[{i}][text]"))?;
                }
            }
            "persistent_menu" => {
                if !has_get_started {
                    return Err(GraphErr::param(
                        "You must set a Get Started button if you also wish to use persistent menu.",
                    ));
                }
                let list = array(Some(v), "persistent_menu")?.unwrap_or(&EMPTY);
                for (i, menu) in list.iter().enumerate() {
                    let path = format!("persistent_menu[{i}][call_to_actions]");
                    if let Some(ctas) = array(menu.get("call_to_actions"), &path)? {
                        at_most(ctas, 20, &path)?;
                        for (j, c) in ctas.iter().enumerate() {
                            max_len(c.get("title"), 30, &format!("{path}[{j}][title]"))?;
                            max_len(c.get("payload"), 1000, &format!("{path}[{j}][payload]"))?;
                        }
                    }
                }
            }
            "ice_breakers" => {
                let list = array(Some(v), "ice_breakers")?.unwrap_or(&EMPTY);
                at_most(list, 4, "ice_breakers")?;
            }
            "whitelisted_domains" => {
                let list = array(Some(v), "whitelisted_domains")?.unwrap_or(&EMPTY);
                at_most(list, 50, "whitelisted_domains")?;
                for d in list {
                    let ok = d.as_str().is_some_and(|d| {
                        let host = d
                            .strip_prefix("https://")
                            .and_then(|rest| rest.split(['/', ':']).next())
                            .unwrap_or("");
                        !host.is_empty()
                            && host != "localhost"
                            && host.parse::<std::net::IpAddr>().is_err()
                    });
                    if !ok {
                        return Err(GraphErr::param(
                            "whitelisted_domains must be HTTPS URLs with a domain name (no IPs or localhost)",
                        ));
                    }
                }
            }
            k if PROFILE_FIELDS.contains(&k) => {}
            other => {
                return Err(GraphErr::param(format_args!(
                    "Param {other} is not a valid messenger profile property"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(msg: Value) -> bool {
        validate_message(&msg, &HashSet::new(), false).is_ok()
    }

    #[test]
    fn text_limit_is_in_characters() {
        assert!(ok(json!({"text": "é".repeat(2000)})));
        assert!(!ok(json!({"text": "a".repeat(2001)})));
        assert!(!ok(json!({})));
    }

    #[test]
    fn template_limits() {
        let button = json!({"type":"postback","title":"ok","payload":"p"});
        let tpl = |buttons: Vec<Value>| json!({"attachment":{"type":"template","payload":{"template_type":"button","text":"t","buttons":buttons}}});
        assert!(ok(tpl(vec![button.clone(); 3])));
        assert!(!ok(tpl(vec![button.clone(); 4])));
        let long = json!({"type":"postback","title":"x".repeat(21),"payload":"p"});
        assert!(!ok(tpl(vec![long])));
        let generic = |n: usize, title: String| {
            json!({"attachment":{"type":"template","payload":{"template_type":"generic",
                "elements": vec![json!({"title": title, "subtitle": "s"}); n]}}})
        };
        assert!(ok(generic(10, "t".repeat(80))));
        assert!(!ok(generic(11, "t".into())));
        assert!(!ok(generic(1, "t".repeat(81))));
        let qrs = |n: usize| json!({"text":"q","quick_replies": vec![json!({"content_type":"text","title":"a","payload":"b"}); n]});
        assert!(ok(qrs(13)));
        assert!(!ok(qrs(14)));
    }
}
