//! The Graph API subset: Send API, User Profile, Messenger Profile, attachment
//! upload, Personas, subscribed_apps and the page node.

use std::sync::Arc;

use axum::http::Method;
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::Platform;
use crate::graph_rules::{GraphErr, PROFILE_FIELDS, validate_message, validate_profile};
use crate::params::{self, Mode};
use crate::server::{ApiRequest, FaultOutcome, apply_faults, drop_connection, finish};
use crate::state::{DIGITS, Inner, new_mid, random_string};

const DAY_MS: i64 = 24 * 3600 * 1000;
/// Tags Meta stopped accepting on 27 Apr 2026 (protocols.md A8).
const DEPRECATED_TAGS: &[&str] = &[
    "CONFIRMED_EVENT_UPDATE",
    "POST_PURCHASE_UPDATE",
    "ACCOUNT_UPDATE",
];
const SENDER_ACTIONS: &[&str] = &["mark_seen", "typing_on", "typing_off", "react", "unreact"];

/// What the path asks for. `node` is the path's object id (`me`, a page id).
enum Op {
    Send {
        node: String,
    },
    Attachments {
        node: String,
    },
    Profile {
        node: String,
    },
    Subscribed {
        node: String,
    },
    Personas {
        node: String,
    },
    /// GET of a bare node: the page itself or a user (profile).
    Node {
        id: String,
    },
    Unknown,
}

impl Op {
    fn name(&self, inner: &Inner) -> &'static str {
        match self {
            Op::Send { .. } => "messages",
            Op::Attachments { .. } => "message_attachments",
            Op::Profile { .. } => "messenger_profile",
            Op::Subscribed { .. } => "subscribed_apps",
            Op::Personas { .. } => "personas",
            Op::Node { id } if id == "me" || inner.m_read().pages.contains_key(id) => "page",
            Op::Node { .. } => "user_profile",
            Op::Unknown => "unknown",
        }
    }
}

fn is_version(seg: &str) -> bool {
    let Some(rest) = seg.strip_prefix('v') else {
        return false;
    };
    !rest.is_empty()
        && rest
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn classify(path: &str) -> Op {
    let mut segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(params::percent_decode)
        .collect();
    if segs.first().is_some_and(|s| is_version(s)) {
        segs.remove(0);
    }
    match segs.as_slice() {
        [node, edge] => {
            let node = node.clone();
            match edge.as_str() {
                "messages" => Op::Send { node },
                "message_attachments" => Op::Attachments { node },
                "messenger_profile" => Op::Profile { node },
                "subscribed_apps" => Op::Subscribed { node },
                "personas" => Op::Personas { node },
                _ => Op::Unknown,
            }
        }
        [id] => Op::Node { id: id.clone() },
        _ => Op::Unknown,
    }
}

pub(crate) async fn handle(inner: &Arc<Inner>, req: ApiRequest) -> Response {
    let op = classify(&req.path);
    let method = op.name(inner).to_owned();
    let parsed = params::parse(
        req.query.as_deref(),
        req.content_type.as_deref(),
        &req.body,
        Mode::Graph,
        None,
    );
    let token = parsed
        .as_ref()
        .ok()
        .and_then(|p| p.get("access_token"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let page_id = token
        .as_deref()
        .and_then(|t| inner.m_read().tokens.get(t).cloned());
    let credential = page_id.clone().unwrap_or_default();
    // The parameters are moved into the log after processing; build the
    // logged value only on the paths that return early.
    let raw_request = |parsed: Result<Map<String, Value>, String>| match parsed {
        Ok(p) => Value::Object(p),
        Err(_) => json!({ "raw_body": String::from_utf8_lossy(&req.body) }),
    };

    match apply_faults(inner, Platform::Messenger, &method).await {
        FaultOutcome::Proceed => {}
        FaultOutcome::Respond(status, body) => {
            let request = raw_request(parsed);
            return finish(
                inner,
                Platform::Messenger,
                method,
                credential,
                request,
                status,
                body,
            );
        }
        FaultOutcome::Drop => {
            let request = raw_request(parsed);
            return drop_connection(
                inner,
                Platform::Messenger,
                method,
                credential,
                request,
                req.kill,
            )
            .await;
        }
    }

    let result = match &parsed {
        Err(e) => Err(GraphErr::param(e)),
        Ok(p) => dispatch(
            inner,
            &req.method,
            op,
            token.as_deref(),
            page_id.as_deref(),
            p,
        ),
    };
    let (status, body) = match result {
        Ok(v) => (200, v),
        Err(e) => (e.status, e.body()),
    };
    let request = raw_request(parsed);
    finish(
        inner,
        Platform::Messenger,
        method,
        credential,
        request,
        status,
        body,
    )
}

fn dispatch(
    inner: &Arc<Inner>,
    http: &Method,
    op: Op,
    token: Option<&str>,
    page_id: Option<&str>,
    p: &Map<String, Value>,
) -> Result<Value, GraphErr> {
    if matches!(op, Op::Unknown) {
        return Err(GraphErr::new(2500, None, "Unknown path components"));
    }
    let page_id = match (token, page_id) {
        (None, _) => {
            return Err(GraphErr::new(
                104,
                None,
                "An access token is required to request this resource.",
            ));
        }
        (Some(_), None) => {
            return Err(GraphErr::new(
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
            ));
        }
        (Some(_), Some(id)) => id,
    };
    let check_node = |node: &str| {
        if node == "me" || node == page_id {
            Ok(())
        } else {
            Err(GraphErr::no_object(node))
        }
    };
    match op {
        Op::Send { node } => {
            check_node(&node)?;
            if *http != Method::POST {
                return Err(GraphErr::param("Unsupported get request."));
            }
            send(inner, page_id, p)
        }
        Op::Attachments { node } => {
            check_node(&node)?;
            upload_attachment(inner, page_id, p)
        }
        Op::Profile { node } => {
            check_node(&node)?;
            messenger_profile(inner, http, page_id, p)
        }
        Op::Subscribed { node } => {
            check_node(&node)?;
            subscribed_apps(inner, http, page_id, p)
        }
        Op::Personas { node } => {
            check_node(&node)?;
            personas(inner, http, page_id, p)
        }
        Op::Node { id } => {
            if id == "me" || id == page_id {
                Ok(json!({ "name": format!("Page {page_id}"), "id": page_id }))
            } else if let Some(answer) = persona(inner, http, page_id, &id) {
                answer
            } else {
                user_profile(inner, page_id, &id, p)
            }
        }
        Op::Unknown => Err(GraphErr::new(2500, None, "Unknown path components")),
    }
}

fn as_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A field that may arrive as a JSON object or as a JSON string.
fn object_field(p: &Map<String, Value>, key: &str) -> Option<Value> {
    match p.get(key)? {
        Value::String(s) => serde_json::from_str(s)
            .ok()
            .or_else(|| Some(Value::String(s.clone()))),
        Value::Null => None,
        v => Some(v.clone()),
    }
}

/// `POST /{page}/messages`, checks in the order Part C lists them.
fn send(inner: &Arc<Inner>, page_id: &str, p: &Map<String, Value>) -> Result<Value, GraphErr> {
    let recipient = object_field(p, "recipient")
        .filter(Value::is_object)
        .ok_or_else(|| GraphErr::param("The parameter recipient is required"))?;
    let psid = match recipient.get("id").and_then(as_id) {
        Some(id) => id,
        None if recipient.as_object().is_some_and(|o| !o.is_empty()) => {
            return Err(GraphErr::param(
                "The emulator supports only recipient.id (user_ref, tokens, post/comment ids and phone numbers are not emulated)",
            ));
        }
        None => return Err(GraphErr::param("The parameter recipient is required")),
    };
    let message = object_field(p, "message");
    let sender_action = p.get("sender_action").and_then(Value::as_str);
    let messaging_type = p.get("messaging_type").and_then(Value::as_str);
    let tag = p
        .get("tag")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    let now = inner.clock.now_ms();

    let reusable = {
        let m = inner.m_read();
        let page = m
            .pages
            .get(page_id)
            .ok_or_else(|| GraphErr::no_object(page_id))?;
        let user = page
            .users
            .get(&psid)
            .ok_or_else(|| GraphErr::new(100, Some(2018001), "(#100) No matching user found"))?;
        if user.blocked {
            return Err(GraphErr::new(
                551,
                Some(1545041),
                "(#551) This person isn't available right now.",
            ));
        }
        if message.is_some() && sender_action.is_some() {
            return Err(GraphErr::new(
                100,
                Some(2018014),
                "(#100) Only one of message or sender_action may be sent in one request",
            ));
        }
        let last = user.last_window_ms;
        if let Some(action) = sender_action {
            if !SENDER_ACTIONS.contains(&action) {
                return Err(GraphErr::param(format_args!(
                    "Param sender_action must be one of {{{}}}",
                    SENDER_ACTIONS.join(", ")
                )));
            }
            if matches!(action, "react" | "unreact")
                && object_field(p, "payload")
                    .and_then(|pl| pl.get("message_id").cloned())
                    .is_none()
            {
                return Err(GraphErr::param(
                    "The parameter payload[message_id] is required",
                ));
            }
            check_window(last, now, DAY_MS)?;
            return Ok(json!({ "recipient_id": psid }));
        }
        let Some(message) = message.as_ref() else {
            return Err(GraphErr::param("Must send either message or sender_action"));
        };
        if let Some(persona) = p.get("persona_id").filter(|v| !v.is_null()) {
            let known = as_id(persona).is_some_and(|id| page.personas.contains_key(&id));
            if !known {
                return Err(GraphErr::param(format_args!(
                    "Param persona_id must be a persona of this page, got {persona}"
                )));
            }
        }
        let upload = p.get("filedata").is_some_and(params::is_upload);
        let info = validate_message(message, &page.attachments, upload)?;
        let window = match (messaging_type, tag) {
            (_, Some(t)) if DEPRECATED_TAGS.contains(&t) => {
                return Err(GraphErr::param(format_args!(
                    "The {t} tag is no longer supported since April 27, 2026. Use Utility Messages instead."
                )));
            }
            (_, Some(t)) if t != "HUMAN_AGENT" => {
                return Err(GraphErr::param(format_args!(
                    "Param tag has an invalid value: {t}"
                )));
            }
            (Some("MESSAGE_TAG"), Some(_)) => Some(7 * DAY_MS),
            (Some("MESSAGE_TAG"), None) => {
                return Err(GraphErr::param(
                    "Tag is required for MESSAGE_TAG messaging type",
                ));
            }
            // Utility templates are meant for outside the window (A8).
            (Some("UTILITY"), _) => {
                if message.get("template").is_none_or(Value::is_null) {
                    return Err(GraphErr::param(
                        "UTILITY messages require message[template]",
                    ));
                }
                None
            }
            (None | Some("RESPONSE" | "UPDATE"), _) => Some(DAY_MS),
            (Some(other), _) => {
                return Err(GraphErr::param(format_args!(
                    "Param messaging_type must be one of {{RESPONSE, UPDATE, MESSAGE_TAG, UTILITY}}, got {other}"
                )));
            }
        };
        if let Some(limit) = window {
            check_window(last, now, limit)?;
        }
        info.reusable
    };

    let mid = new_mid();
    let mut reply = json!({ "recipient_id": psid, "message_id": mid });
    if reusable {
        let id = random_string(16, DIGITS);
        if let Some(page) = inner.m_write().pages.get_mut(page_id) {
            page.attachments.insert(id.clone());
        }
        reply["attachment_id"] = Value::String(id);
    }
    if inner.config.auto_receipts {
        tokio::spawn(crate::driver::auto_receipts(
            inner.clone(),
            page_id.to_owned(),
            psid,
            mid,
            now,
        ));
    }
    Ok(reply)
}

fn check_window(last: Option<i64>, now: i64, limit_ms: i64) -> Result<(), GraphErr> {
    match last {
        Some(t) if now - t <= limit_ms => Ok(()),
        _ => Err(GraphErr::new(
            10,
            Some(2018278),
            "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
        )),
    }
}

/// `GET /{psid}?fields=...` (A14).
fn user_profile(
    inner: &Inner,
    page_id: &str,
    psid: &str,
    p: &Map<String, Value>,
) -> Result<Value, GraphErr> {
    let m = inner.m_read();
    let user = m
        .pages
        .get(page_id)
        .and_then(|pg| pg.users.get(psid))
        .ok_or_else(|| GraphErr::no_object(psid))?;
    let fields = p
        .get("fields")
        .and_then(Value::as_str)
        .unwrap_or("first_name,last_name,profile_pic");
    let default_profile;
    let prof = match &user.profile {
        Some(pr) => pr,
        None => {
            default_profile = crate::MessengerUserProfile {
                first_name: "User".into(),
                last_name: psid.to_owned(),
                profile_pic: None,
                locale: Some("en_US".into()),
                timezone: Some(0.0),
                gender: None,
            };
            &default_profile
        }
    };
    let mut out = Map::new();
    for f in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let v = match f {
            "id" => Some(json!(psid)),
            "name" => Some(json!(
                format!("{} {}", prof.first_name, prof.last_name)
                    .trim()
                    .to_owned()
            )),
            "first_name" => Some(json!(prof.first_name)),
            "last_name" => Some(json!(prof.last_name)),
            "profile_pic" => Some(json!(prof.profile_pic.clone().unwrap_or_else(|| format!(
                "https://platform-lookaside.fbsbx.com/platform/profilepic/?psid={psid}&ext=1"
            )))),
            "locale" => prof.locale.clone().map(Value::from),
            "timezone" => prof.timezone.map(Value::from),
            "gender" => prof.gender.clone().map(Value::from),
            other => {
                return Err(GraphErr::param(format_args!(
                    "Tried accessing nonexisting field ({other}) on node type (User)"
                )));
            }
        };
        if let Some(v) = v {
            out.insert(f.to_owned(), v);
        }
    }
    out.insert("id".into(), json!(psid));
    Ok(Value::Object(out))
}

/// `GET|POST|DELETE /me/messenger_profile` (A15).
fn messenger_profile(
    inner: &Inner,
    http: &Method,
    page_id: &str,
    p: &Map<String, Value>,
) -> Result<Value, GraphErr> {
    let mut m = inner.m_write();
    let page = m
        .pages
        .get_mut(page_id)
        .ok_or_else(|| GraphErr::no_object(page_id))?;
    if *http == Method::GET {
        let fields = p
            .get("fields")
            .and_then(Value::as_str)
            .ok_or_else(|| GraphErr::param("The parameter fields is required"))?;
        let mut out = Map::new();
        for f in fields.split(',').map(str::trim) {
            if let Some(v) = page.profile.get(f) {
                out.insert(f.to_owned(), v.clone());
            }
        }
        return Ok(if out.is_empty() {
            json!({ "data": [] })
        } else {
            json!({ "data": [out] })
        });
    }
    if *http == Method::DELETE {
        let fields: Vec<String> = match p.get("fields") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Some(Value::String(s)) => s.split(',').map(|s| s.trim().to_owned()).collect(),
            _ => return Err(GraphErr::param("The parameter fields is required")),
        };
        for f in &fields {
            if !PROFILE_FIELDS.contains(&f.as_str()) {
                return Err(GraphErr::param(format_args!(
                    "Param fields[{f}] is not a valid field"
                )));
            }
        }
        for f in fields {
            page.profile.remove(&f);
        }
        return Ok(json!({ "result": "success" }));
    }
    let props: Map<String, Value> = p
        .iter()
        .filter(|(k, _)| k.as_str() != "access_token" && k.as_str() != "appsecret_proof")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let has_get_started =
        props.contains_key("get_started") || page.profile.contains_key("get_started");
    validate_profile(&props, has_get_started)?;
    page.profile.extend(props);
    Ok(json!({ "result": "success" }))
}

/// `POST /{page}/message_attachments` (A17): JSON with a URL, or multipart
/// with `filedata`.
fn upload_attachment(
    inner: &Inner,
    page_id: &str,
    p: &Map<String, Value>,
) -> Result<Value, GraphErr> {
    let message = object_field(p, "message")
        .ok_or_else(|| GraphErr::param("The parameter message is required"))?;
    let att = message
        .get("attachment")
        .ok_or_else(|| GraphErr::param("The parameter message[attachment] is required"))?;
    let kind = match att.get("type").and_then(Value::as_str) {
        Some(k @ ("image" | "video" | "audio" | "file")) => k,
        _ => {
            return Err(GraphErr::param(
                "Param message[attachment][type] must be one of {image, video, audio, file}",
            ));
        }
    };
    let has_url = att
        .get("payload")
        .and_then(|pl| pl.get("url"))
        .and_then(Value::as_str)
        .is_some_and(|u| u.starts_with("http://") || u.starts_with("https://"));
    let has_file = p.get("filedata").is_some_and(params::is_upload);
    if !has_url && !has_file {
        return Err(GraphErr::param(
            "Either message[attachment][payload][url] or a filedata upload is required",
        ));
    }
    if let Some(size) = p
        .get("filedata")
        .and_then(|f| f.get("size"))
        .and_then(Value::as_u64)
        && size > 25 * 1024 * 1024
    {
        return Err(GraphErr::new(
            100,
            Some(2018109),
            "(#100) Attachment size exceeds allowable limit",
        ));
    }
    // A17: an uploaded audio file needs an audio/* Content-Type.
    if kind == "audio"
        && let Some(file) = p.get("filedata").filter(|f| params::is_upload(f))
        && !file
            .get("content_type")
            .and_then(Value::as_str)
            .is_some_and(|ct| ct.trim().to_ascii_lowercase().starts_with("audio/"))
    {
        return Err(GraphErr::new(
            100,
            Some(2018047),
            "(#100) Upload attachment failure: audio uploads need an audio/* Content-Type",
        ));
    }
    let id = random_string(16, DIGITS);
    if let Some(page) = inner.m_write().pages.get_mut(page_id) {
        page.attachments.insert(id.clone());
    }
    Ok(json!({ "attachment_id": id }))
}

/// `POST /{page}/personas` with `name` and `profile_picture_url` (both required) → `{id}`;
/// `GET` lists them as `{data: [{id, name, profile_picture_url}]}`. A message sent with a
/// `persona_id` the page does not own is refused with code 100.
fn personas(
    inner: &Inner,
    http: &Method,
    page_id: &str,
    p: &Map<String, Value>,
) -> Result<Value, GraphErr> {
    if *http == Method::GET {
        let m = inner.m_read();
        let mut data: Vec<Value> = m
            .pages
            .get(page_id)
            .map(|page| {
                page.personas
                    .iter()
                    .map(|(id, (name, pic))| json!({"id": id, "name": name, "profile_picture_url": pic}))
                    .collect()
            })
            .unwrap_or_default();
        data.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        return Ok(json!({ "data": data }));
    }
    if *http != Method::POST {
        return Err(GraphErr::param("Unsupported method on personas"));
    }
    let field = |key: &str| {
        p.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| GraphErr::param(format_args!("The parameter {key} is required")))
    };
    let name = field("name")?;
    let picture = field("profile_picture_url")?;
    if !(picture.starts_with("https://") || picture.starts_with("http://")) {
        return Err(GraphErr::param(
            "Param profile_picture_url must be a valid URL",
        ));
    }
    let id = random_string(16, DIGITS);
    if let Some(page) = inner.m_write().pages.get_mut(page_id) {
        page.personas.insert(id.clone(), (name, picture));
    }
    Ok(json!({ "id": id }))
}

/// `GET /{persona-id}` (`{id, name, profile_picture_url}`) and `DELETE /{persona-id}`
/// (`{success: true}`; messages can no longer use it). `None` when `id` is not one of the
/// page's personas.
fn persona(
    inner: &Inner,
    http: &Method,
    page_id: &str,
    id: &str,
) -> Option<Result<Value, GraphErr>> {
    let mut m = inner.m_write();
    let page = m.pages.get_mut(page_id)?;
    let (name, picture) = page.personas.get(id)?.clone();
    Some(match *http {
        Method::GET => Ok(json!({ "id": id, "name": name, "profile_picture_url": picture })),
        Method::DELETE => {
            page.personas.remove(id);
            Ok(json!({ "success": true }))
        }
        _ => Err(GraphErr::param("Unsupported method on a persona")),
    })
}

/// `GET|POST|DELETE /{page}/subscribed_apps` (A2). Subscribing again also
/// re-enables a webhook that was disabled after an hour of failures.
fn subscribed_apps(
    inner: &Inner,
    http: &Method,
    page_id: &str,
    p: &Map<String, Value>,
) -> Result<Value, GraphErr> {
    let mut m = inner.m_write();
    let page = m
        .pages
        .get_mut(page_id)
        .ok_or_else(|| GraphErr::no_object(page_id))?;
    if *http == Method::GET {
        let data = if page.subscribed {
            vec![json!({
                "category": "Business",
                "link": "https://switchboard.invalid/",
                "name": "Switchboard",
                "id": "1517776481860111",
                "subscribed_fields": page.subscribed_fields,
            })]
        } else {
            Vec::new()
        };
        return Ok(json!({ "data": data }));
    }
    if *http == Method::DELETE {
        page.subscribed = false;
        return Ok(json!({ "success": true }));
    }
    if let Some(fields) = p.get("subscribed_fields") {
        page.subscribed_fields = match fields {
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::String(s) => s.split(',').map(|s| s.trim().to_owned()).collect(),
            _ => Vec::new(),
        };
    }
    page.subscribed = true;
    page.failing_since = None;
    Ok(json!({ "success": true }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert!(matches!(classify("/v23.0/me/messages"), Op::Send { node } if node == "me"));
        assert!(matches!(classify("/me/messages"), Op::Send { .. }));
        assert!(matches!(
            classify("/v9/123/message_attachments"),
            Op::Attachments { .. }
        ));
        assert!(matches!(classify("/v23.0/42"), Op::Node { id } if id == "42"));
        assert!(matches!(classify("/v23.0/a/b/c"), Op::Unknown));
        assert!(
            is_version("v23.0") && !is_version("v") && !is_version("vx.1") && !is_version("me")
        );
    }
}
