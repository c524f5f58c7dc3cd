//! Proving a webhook POST comes from Telegram.

use subtle::ConstantTimeEq;

/// Compares `X-Telegram-Bot-Api-Secret-Token` with the secret we gave `setWebhook`, in constant
/// time. A missing header is a failure, and so is an empty expected secret: Telegram requires
/// 1–256 characters, so an empty one means the channel was never configured and must not accept
/// anyone.
pub fn verify_secret(expected: &str, header: Option<&str>) -> bool {
    match header {
        Some(given) if !expected.is_empty() => given.as_bytes().ct_eq(expected.as_bytes()).into(),
        _ => false,
    }
}
