//! The Graph API calls we make (Send API, User Profile API) and Graph error classification.

use std::fmt;

use reqwest::multipart::Form;
use serde_json::{Value, json};
use switchboard_domain::{
    ChannelKind, OutgoingMessage, Psid, SendError, SendErrorClass, SendReceipt,
};

use super::rich;
use crate::error;
use crate::json::{i64_at, id_at, str_at};
use crate::media::{Delivered, MediaSet, check_size, file_part};

/// `messaging_type` of a Send API call (A7/A8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessagingType {
    /// A reply inside the 24 h window.
    Response,
    /// A message we initiate inside the 24 h window.
    Update,
    /// Outside the window under a message tag; the string is the tag (e.g. `HUMAN_AGENT`).
    MessageTag(String),
}

/// The profile facts we ask Graph for. All optional: Graph answers `{}` when the page lacks the
/// permission or the person has not interacted enough (A14).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
}

/// A Graph API client for one page. Cheap to clone (reqwest's client is shared).
#[derive(Clone)]
pub struct MessengerClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl fmt::Debug for MessengerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The page token must never reach a log line, even through `{:?}`.
        f.debug_struct("MessengerClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl MessengerClient {
    /// `graph_api_url` is the versioned base, e.g. `https://graph.facebook.com/v23.0`.
    pub fn new(http: reqwest::Client, graph_api_url: &str, page_access_token: &str) -> Self {
        MessengerClient {
            http,
            base: graph_api_url.trim_end_matches('/').to_owned(),
            token: page_access_token.to_owned(),
        }
    }

    /// Sends one text message: `POST {base}/me/messages?access_token=..` with
    /// `{"recipient":{"id":psid},"messaging_type":..,"tag"?:..,"message":{"text":..,"metadata"?:..}}`.
    ///
    /// `metadata` should be `METADATA_PREFIX` + our message id so the echo can be recognised.
    /// The text is sent as given; callers enforce the 2000-character limit through
    /// `MessageText`.
    pub async fn send_text(
        &self,
        psid: &Psid,
        text: &str,
        messaging_type: &MessagingType,
        metadata: Option<&str>,
    ) -> Result<SendReceipt, SendError> {
        self.send_message(
            psid,
            &OutgoingMessage::text(text),
            messaging_type,
            metadata,
            None,
            &MediaSet::new(),
        )
        .await
        .map(SendReceipt::from)
    }

    /// Sends one rich message (rendered as described in the `rich` module: text, button /
    /// media / generic templates, attachments, quick replies) with `POST {base}/me/messages`.
    ///
    /// A media item given as [`MediaInput::File`](crate::MediaInput::File) is uploaded first
    /// (`POST {base}/me/message_attachments`, multipart `filedata`, `is_reusable`) and its
    /// `attachment_id` returned in [`Delivered::learned`]; one given as
    /// [`MediaInput::PublicUrl`](crate::MediaInput::PublicUrl) and sent with `is_reusable` is
    /// learned from the reply. If the upload fails, the message was not sent: the error says
    /// `not_delivered_to_platform`.
    /// What Messenger cannot carry (see the domain's `OutgoingMessage::check`) and media missing
    /// from `media` are refused as permanent `BadRequest`s before any request.
    /// `persona_id` (from [`MessengerClient::create_persona`]) shows the message as that persona.
    pub async fn send_message(
        &self,
        psid: &Psid,
        message: &OutgoingMessage,
        messaging_type: &MessagingType,
        metadata: Option<&str>,
        persona_id: Option<&str>,
        media: &MediaSet,
    ) -> Result<Delivered, SendError> {
        let rich::Rendered {
            message: mut out,
            upload,
            learn_from_reply,
        } = rich::render(message, media)?;
        let mut learned = Vec::new();
        if let Some(upload) = upload {
            let id = self.upload(&upload).await?;
            rich::fill_attachment_id(&mut out, &id);
            learned.push((upload.media_id, id));
        }
        if let Some(metadata) = metadata {
            out["metadata"] = Value::String(metadata.to_owned());
        }
        let mut body = json!({
            "recipient": { "id": psid.as_str() },
            "message": out,
        });
        if let Some(persona) = persona_id {
            body["persona_id"] = json!(persona);
        }
        match messaging_type {
            MessagingType::Response => body["messaging_type"] = json!("RESPONSE"),
            MessagingType::Update => body["messaging_type"] = json!("UPDATE"),
            MessagingType::MessageTag(tag) => {
                body["messaging_type"] = json!("MESSAGE_TAG");
                body["tag"] = json!(tag);
            }
        }
        let request = self
            .http
            .post(format!("{}/me/messages", self.base))
            .query(&[("access_token", self.token.as_str())])
            .json(&body);
        let reply = self.call(request).await?;
        let Some(platform_message_id) = str_at(&reply, &["message_id"]) else {
            // Graph said 2xx, so the message probably went out; without its id we cannot say,
            // and re-sending could duplicate it.
            return Err(SendError::transport(
                "Send API success without a message_id",
                false,
            ));
        };
        if let (Some(media_id), Some(id)) = (learn_from_reply, id_at(&reply, &["attachment_id"])) {
            learned.push((media_id, id));
        }
        Ok(Delivered {
            platform_message_id,
            learned,
        })
    }

    /// `POST {base}/me/message_attachments` (A17): multipart with the bytes in `filedata`, or
    /// JSON with a URL Meta fetches; returns the reusable `attachment_id`. Any failure here
    /// means the message itself was never sent.
    async fn upload(&self, upload: &rich::PendingUpload<'_>) -> Result<String, SendError> {
        let kind = upload.kind.as_str();
        let request = self
            .http
            .post(format!("{}/me/message_attachments", self.base))
            .query(&[("access_token", self.token.as_str())]);
        let request = match upload.source {
            rich::UploadSource::File {
                bytes,
                filename,
                mime_type,
            } => {
                check_size(bytes, upload.kind, ChannelKind::Messenger, upload.media_id)?;
                let message =
                    json!({ "attachment": { "type": kind, "payload": { "is_reusable": true } } });
                let mime = rich::upload_mime(upload.kind, filename, mime_type);
                let form = Form::new()
                    .text("message", message.to_string())
                    .part("filedata", file_part(bytes, filename, &mime));
                request.multipart(form)
            }
            rich::UploadSource::Url(url) => request.json(&json!({
                "message": { "attachment": { "type": kind, "payload": { "url": url, "is_reusable": true } } }
            })),
        };
        let not_sent = |mut e: SendError| {
            e.not_delivered_to_platform = true;
            e.detail = format!("uploading media {}: {}", upload.media_id, e.detail);
            e
        };
        let reply = self.call(request).await.map_err(not_sent)?;
        id_at(&reply, &["attachment_id"]).ok_or_else(|| {
            not_sent(SendError::transport(
                "Attachment Upload API success without an attachment_id",
                true,
            ))
        })
    }

    /// `POST {base}/me/personas` with `{name, profile_picture_url}` (A7): the persona's id, to be
    /// reused for every message the persona sends. A failure here means no message was sent.
    pub async fn create_persona(
        &self,
        name: &str,
        profile_picture_url: &str,
    ) -> Result<String, SendError> {
        let not_sent = |mut e: SendError| {
            e.not_delivered_to_platform = true;
            e.detail = format!("creating persona {name:?}: {}", e.detail);
            e
        };
        let reply = self
            .post_json(
                "me/personas",
                &json!({ "name": name, "profile_picture_url": profile_picture_url }),
            )
            .await
            .map_err(not_sent)?;
        id_at(&reply, &["id"]).ok_or_else(|| {
            not_sent(SendError::transport(
                "Personas API success without an id",
                true,
            ))
        })
    }

    /// A sender action (D2): `mark_seen` (the person sees "Seen"), `typing_on`, `typing_off`.
    pub async fn sender_action(&self, psid: &Psid, action: SenderAction) -> Result<(), SendError> {
        self.post_json(
            "me/messages",
            &json!({ "recipient": { "id": psid.as_str() }, "sender_action": action.as_str() }),
        )
        .await
        .map(drop)
    }

    /// `GET {base}/{psid}?fields=first_name,last_name,locale`.
    pub async fn user_profile(&self, psid: &Psid) -> Result<Profile, SendError> {
        let request = self
            .http
            .get(format!("{}/{}", self.base, psid.as_str()))
            .query(&[
                ("fields", "first_name,last_name,locale"),
                ("access_token", self.token.as_str()),
            ]);
        let reply = self.call(request).await?;
        Ok(Profile {
            first_name: str_at(&reply, &["first_name"]),
            last_name: str_at(&reply, &["last_name"]),
            locale: str_at(&reply, &["locale"]),
        })
    }

    /// `POST {base}/{path}?access_token=..` with a JSON body.
    pub(crate) async fn post_json(&self, path: &str, body: &Value) -> Result<Value, SendError> {
        let request = self
            .http
            .post(format!("{}/{path}", self.base))
            .query(&[("access_token", self.token.as_str())])
            .json(body);
        self.call(request).await
    }

    /// Sends a request and returns the JSON of a successful answer, or a classified error.
    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, SendError> {
        let response = request
            .send()
            .await
            .map_err(|e| error::transport(e, &self.token))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| error::transport(e, &self.token))?;
        let json: Option<Value> = serde_json::from_slice(&body).ok();

        if let Some(err) = json
            .as_ref()
            .and_then(|j| j.get("error"))
            .filter(|e| e.is_object())
        {
            let code = i64_at(err, &["code"]);
            let subcode = i64_at(err, &["error_subcode"]);
            let message = str_at(err, &["message"]).unwrap_or_default();
            let trace = str_at(err, &["fbtrace_id"]).unwrap_or_default();
            let class = classify_graph_error(status, code, subcode);
            tracing::debug!(status, ?code, ?subcode, fbtrace_id = %trace, "Graph API error");
            return Err(error::platform(
                class,
                code,
                subcode,
                None,
                &format!("Graph HTTP {status}: {message} (fbtrace_id {trace})"),
                &self.token,
            ));
        }
        match json {
            Some(value) if (200..300).contains(&status) => Ok(value),
            _ if (200..300).contains(&status) || status >= 500 => {
                // An unreadable success, or a 5xx from Meta's edge: the call may have taken effect.
                Err(error::unreadable("Graph API", status, &body, &self.token))
            }
            _ => Err(error::platform(
                classify_graph_error(status, None, None),
                None,
                None,
                None,
                &format!(
                    "Graph HTTP {status} without an error body: {}",
                    error::snippet(&body)
                ),
                &self.token,
            )),
        }
    }
}

/// Classifies a Graph API failure by its numeric `code` / `error_subcode` and HTTP status only;
/// the message text is for people and changes without notice (A12).
pub fn classify_graph_error(
    http_status: u16,
    code: Option<i64>,
    subcode: Option<i64>,
) -> SendErrorClass {
    use SendErrorClass::*;
    match (code, subcode) {
        // Outside the 24 h standard messaging window (RESPONSE/UPDATE after 24 h).
        (Some(10), Some(2018278)) => WindowClosed,
        // "This person can't receive messages right now".
        (Some(10), Some(2018108)) => RecipientUnavailable,
        // No matching user: the PSID is not known to this page.
        (Some(100), Some(2018001)) => InvalidRecipient,
        // "This person isn't available right now": blocked the page or unreachable. The subcode
        // also arrives under code 200 (A12), so it decides on its own.
        (Some(551), _) | (_, Some(1545041)) => RecipientUnavailable,
        // Unknown or temporary Graph errors: Meta says retry.
        (Some(1 | 2), _) => Transient,
        // App (4), user (17), Pages (32) and custom (613) rate limits.
        (Some(4 | 17 | 32 | 613), _) => RateLimited,
        // Invalid or expired access token: nothing works until someone reconnects the page.
        (Some(190), _) => AuthBroken,
        // 100: invalid parameter, expired notification token, deprecated tag. 10 without a
        // listed subcode: missing permission, page restricted, topic stopped. 200: app not live
        // or permission missing. The request itself was refused; repeating it will not help,
        // whatever the HTTP status.
        (Some(10 | 100 | 200), _) => BadRequest,
        // No Graph error body: go by the HTTP status. 5xx is Meta's edge failing; 429 is a
        // proxy or edge throttle.
        (None, _) if http_status >= 500 => Transient,
        (None, _) if http_status == 429 => RateLimited,
        // A code we do not list, but Meta failed internally: a retry may succeed.
        (Some(_), _) if http_status >= 500 => Transient,
        // Any other code: treat the request as refused rather than retry it blindly.
        _ => BadRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SendErrorClass::*;

    #[test]
    fn graph_codes_map_to_classes() {
        let cases = [
            (400, Some(1), None, Transient),
            (400, Some(2), None, Transient),
            (400, Some(4), None, RateLimited),
            (400, Some(17), None, RateLimited),
            (400, Some(32), None, RateLimited),
            (400, Some(613), Some(2534040), RateLimited),
            (400, Some(10), Some(2018278), WindowClosed),
            (400, Some(10), Some(2018108), RecipientUnavailable),
            (400, Some(10), None, BadRequest),
            (400, Some(10), Some(1893063), BadRequest),
            (400, Some(551), Some(1545041), RecipientUnavailable),
            (400, Some(551), None, RecipientUnavailable),
            (400, Some(200), Some(1545041), RecipientUnavailable),
            (400, Some(100), Some(2018001), InvalidRecipient),
            (400, Some(100), None, BadRequest),
            (400, Some(100), Some(33), BadRequest),
            (400, Some(190), Some(463), AuthBroken),
            (401, Some(190), None, AuthBroken),
            (500, None, None, Transient),
            (502, None, None, Transient),
            (429, None, None, RateLimited),
            (400, None, None, BadRequest),
            (404, None, None, BadRequest),
            (500, Some(100), None, BadRequest),
            (500, Some(10), Some(2018278), WindowClosed),
            (500, Some(123456), None, Transient),
            (400, Some(123456), None, BadRequest),
        ];
        for (status, code, sub, want) in cases {
            assert_eq!(
                classify_graph_error(status, code, sub),
                want,
                "{status} {code:?}/{sub:?}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_page_token() {
        let rendered = format!(
            "{:?}",
            MessengerClient {
                http: crate::http_client(),
                base: "https://graph.example".into(),
                token: "EAAG-secret".into(),
            }
        );
        assert!(!rendered.contains("EAAG-secret"), "{rendered}");
    }
}

/// What a page can show a person without a message (D2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenderAction {
    MarkSeen,
    TypingOn,
    TypingOff,
}

impl SenderAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SenderAction::MarkSeen => "mark_seen",
            SenderAction::TypingOn => "typing_on",
            SenderAction::TypingOff => "typing_off",
        }
    }
}
