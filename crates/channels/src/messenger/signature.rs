//! Proving a webhook call comes from Meta: `X-Hub-Signature-256` on POSTs and the verify-token
//! handshake on the subscription GET.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Why a webhook POST's signature was rejected. Kept distinct so logs can tell a misconfigured
/// proxy that strips the header (`Missing`) from a wrong app secret (`Mismatch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not `sha256=<64 hex digits>`")]
    Malformed,
    #[error("the X-Hub-Signature-256 header does not match the body")]
    Mismatch,
}

const SCHEME: &str = "sha256=";

/// Checks `X-Hub-Signature-256: sha256=<hex>` against HMAC-SHA256(app secret, raw body).
///
/// `body` must be the bytes exactly as received: Meta signs its own `\uXXXX`-escaped
/// serialisation, so re-serialised JSON would not match. The comparison is constant-time
/// (`verify_slice`), so timing reveals nothing about how much of a forged signature was right.
pub fn verify_signature(
    app_secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex_digest = header
        .get(..SCHEME.len())
        .filter(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
        .and_then(|_| header.get(SCHEME.len()..))
        .ok_or(SignatureError::Malformed)?;
    let claimed = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    if claimed.len() != 32 {
        return Err(SignatureError::Malformed);
    }
    // HMAC accepts keys of any length, so this cannot fail; map it anyway rather than unwrap.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(body);
    mac.verify_slice(&claimed)
        .map_err(|_| SignatureError::Mismatch)
}

/// Answers Meta's subscription handshake
/// (`GET ?hub.mode=subscribe&hub.verify_token=..&hub.challenge=..`).
///
/// Returns the challenge to echo with `200` when the mode is `subscribe` and the token equals
/// `expected_token` (compared in constant time); `None` means answer `403`. An empty expected
/// token never matches, so a channel whose verify token was never set cannot be subscribed by
/// anyone who guesses "empty".
pub fn verify_handshake(
    mode: Option<&str>,
    verify_token: Option<&str>,
    challenge: Option<&str>,
    expected_token: &str,
) -> Option<String> {
    if mode != Some("subscribe") || expected_token.is_empty() {
        return None;
    }
    let token = verify_token?;
    if !bool::from(token.as_bytes().ct_eq(expected_token.as_bytes())) {
        return None;
    }
    challenge.map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_prefix_on_a_multibyte_boundary_is_malformed_not_a_panic() {
        // "sha25é" puts a char boundary inside the 7-byte prefix window.
        assert_eq!(
            verify_signature(b"k", b"", Some("sha25é=00")),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(b"k", b"", Some("é")),
            Err(SignatureError::Malformed)
        );
    }
}
