//! Who is calling the API. Today there is one role, the administrator holding the admin token;
//! every API route takes a [`Role`] extractor so adding agent roles later changes one place.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
}

/// Proof that the request carries the admin token.
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match role_of(parts, state.admin_token_digest.as_ref())? {
            Role::Admin => Ok(Admin),
        }
    }
}

fn role_of(parts: &Parts, admin_digest: Option<&[u8; 32]>) -> Result<Role, ApiError> {
    let Some(expected) = admin_digest else {
        return Err(ApiError::Forbidden(
            "the API is disabled: set SWITCHBOARD_ADMIN_TOKEN",
        ));
    };
    let presented = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthenticated)?;
    // Compare digests so the comparison is constant-time and independent of the token's length.
    let digest = token_digest(presented);
    if bool::from(digest.ct_eq(expected)) {
        Ok(Role::Admin)
    } else {
        Err(ApiError::Unauthenticated)
    }
}

pub fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
