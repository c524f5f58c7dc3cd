//! Passwords, session and API tokens: how they are made, stored and checked.
//!
//! Passwords are argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes — OWASP's minimum)
//! and hashed off the async workers. Session and API tokens are 256 random bits; the database
//! keeps only their SHA-256, so a leaked backup opens no session. Comparisons of secrets are
//! constant-time.

use std::fmt;
use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ServiceError;

/// What a personal API token starts with, so a bearer token says which kind it is (and secret
/// scanners can recognise a leaked one).
pub const API_TOKEN_PREFIX: &str = "sb_pat_";

/// A password as typed: never printed, never logged.
#[derive(Clone)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl Password {
    /// At least 10 characters (NIST 800-63B asks 8; support teams share screens), at most 256.
    pub fn new(raw: String) -> Result<Password, ServiceError> {
        let n = raw.chars().count();
        if n < 10 {
            return Err(ServiceError::Invalid {
                field: "password",
                message: "a password has at least 10 characters".into(),
            });
        }
        if n > 256 {
            return Err(ServiceError::Invalid {
                field: "password",
                message: "a password has at most 256 characters".into(),
            });
        }
        Ok(Password(raw))
    }

    /// A password typed at login: any length is checked (and fails) the same way.
    pub fn attempt(raw: String) -> Password {
        Password(raw)
    }

    /// The argon2id PHC string to store.
    pub async fn hash(self) -> Result<String, ServiceError> {
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::encode_b64(&random_bytes::<16>())
                .map_err(|_| ServiceError::Internal)?;
            Argon2::default()
                .hash_password(self.0.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|_| ServiceError::Internal)
        })
        .await
        .map_err(|_| ServiceError::Internal)?
    }

    /// Whether this is the password of `stored` (a PHC string). With `None` — an unknown
    /// account — a dummy hash is checked instead, so both cases take as long.
    pub async fn verify(self, stored: Option<String>) -> bool {
        tokio::task::spawn_blocking(move || {
            let known = stored.is_some();
            let phc = stored.unwrap_or_else(|| DUMMY_HASH.clone());
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return false;
            };
            let matches = Argon2::default()
                .verify_password(self.0.as_bytes(), &parsed)
                .is_ok();
            known && matches
        })
        .await
        .unwrap_or(false)
    }
}

/// A hash of a random password nobody knows, checked when the e-mail is unknown.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes encode");
    Argon2::default()
        .hash_password(&random_bytes::<32>(), &salt)
        .map(|h| h.to_string())
        .expect("argon2 with default parameters")
});

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).expect("the operating system's random source");
    bytes
}

/// A fresh secret (session token, CSRF token, API token body): 256 bits as hex.
pub fn new_secret() -> String {
    hex::encode(random_bytes::<32>())
}

/// How a session or API token is stored and looked up.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two secrets (lengths may leak; contents do not).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The admin token's digest, compared in constant time whatever the presented length.
#[derive(Clone)]
pub struct AdminToken([u8; 32]);

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken([redacted])")
    }
}

impl AdminToken {
    pub fn new(token: &str) -> AdminToken {
        AdminToken(Sha256::digest(token.as_bytes()).into())
    }

    pub fn matches(&self, presented: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.ct_eq(&self.0).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let hash = Password::new("correct horse".into())
            .unwrap()
            .hash()
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(
            Password::attempt("correct horse".into())
                .verify(Some(hash.clone()))
                .await
        );
        assert!(
            !Password::attempt("correct horsE".into())
                .verify(Some(hash))
                .await
        );
        assert!(!Password::attempt("correct horse".into()).verify(None).await);
    }

    #[test]
    fn passwords_never_print() {
        let p = Password::attempt("hunter2hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(Password::new("short".into()).is_err());
    }
}
