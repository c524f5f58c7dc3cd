//! Turning transport failures and odd responses into [`SendError`]s without leaking secrets.

use std::error::Error as _;

use switchboard_domain::{SendError, SendErrorClass};

/// What replaces a token wherever it might have slipped into a detail string.
const REDACTED: &str = "<redacted>";

/// How much of an unexpected response body we keep for the logs.
const SNIPPET_CHARS: usize = 200;

/// Maps a reqwest failure to a transport [`SendError`].
///
/// Only a failure to connect (refused, DNS, TLS handshake, connect timeout) or to build the
/// request proves nothing reached the platform; anything later (a timeout while waiting for the
/// answer, a dropped connection, an unreadable body) is ambiguous, because the platform may have
/// acted on the request.
pub(crate) fn transport(err: reqwest::Error, secret: &str) -> SendError {
    let not_delivered = err.is_connect() || err.is_builder();
    // reqwest's Display includes the URL, which carries the token (Graph query string, Telegram
    // path), hence `without_url`; the redaction below is a second line of defence.
    let err = err.without_url();
    let mut detail = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    SendError::transport(redact(&detail, secret), not_delivered)
}

/// A platform answer we could not make sense of. The request reached the platform, so whether
/// it acted is unknown.
pub(crate) fn unreadable(what: &str, status: u16, body: &[u8], secret: &str) -> SendError {
    SendError::transport(
        redact(&format!("{what}: HTTP {status}: {}", snippet(body)), secret),
        false,
    )
}

/// A classified platform failure (the platform answered, so the request did reach it).
pub(crate) fn platform(
    class: SendErrorClass,
    code: Option<i64>,
    subcode: Option<i64>,
    retry_after_secs: Option<u64>,
    detail: &str,
    secret: &str,
) -> SendError {
    SendError {
        class,
        code,
        subcode,
        retry_after_secs,
        detail: redact(detail, secret),
        not_delivered_to_platform: false,
    }
}

pub(crate) fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, REDACTED)
    }
}

pub(crate) fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(SNIPPET_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_every_occurrence_and_ignores_empty_secrets() {
        assert_eq!(redact("a TOK b TOK", "TOK"), "a <redacted> b <redacted>");
        assert_eq!(redact("nothing", ""), "nothing");
    }

    #[test]
    fn snippets_are_bounded_and_survive_invalid_utf8() {
        let body = [b'x'; 1000];
        assert_eq!(snippet(&body).chars().count(), SNIPPET_CHARS);
        assert_eq!(snippet(&[0xff, b'a']), "\u{fffd}a");
    }
}
