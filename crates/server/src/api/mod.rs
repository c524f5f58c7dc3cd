//! The JSON API under `/api/v1`: thin handlers that parse the request, take the
//! [`Actor`](switchboard_service::Actor) the router's authentication put on it, and call the
//! service layer, which checks the role and the actor's scope.

pub mod automations;
pub mod channels;
pub mod events;
pub mod inbox;
pub mod media;
pub mod people;
pub mod send;

use axum::body::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Parses a JSON body: malformed JSON is a 400, well-formed JSON of the wrong shape a 422.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Invalid {
            field: "body",
            message: e.to_string(),
        },
        _ => ApiError::BadRequest(format!("invalid JSON: {e}")),
    })
}
