//! The server's one error type, mapped to HTTP in exactly one place.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchboard_domain::rich::Violation;
use switchboard_service::ServiceError;
use switchboard_storage::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// The request is well-formed JSON but a field is wrong; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// Well-formed but refused for a reason the caller can act on (a policy rule, template errors,
    /// lint errors); `details` carries the structured reason.
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
    #[error("missing or malformed credentials")]
    Unauthenticated,
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    #[error("too many attempts; try again in {0} s")]
    Throttled(u64),
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("body larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The database did not answer; the caller (often a platform) should retry.
    #[error("temporarily unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The engine's own store errors (webhooks, dispatcher) are read as the service layer reads them.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Template { field, errors } => ApiError::Unprocessable {
                code: "invalid_template",
                message: format!(
                    "{field}: {}",
                    errors
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                details: json!({ "field": field, "errors": errors }),
            },
            ServiceError::Limits(violations) => ApiError::Unprocessable {
                code: "message_invalid",
                message: joined(&violations),
                details: json!({ "violations": violations }),
            },
            ServiceError::Media(violations) => ApiError::Unprocessable {
                code: "media_invalid",
                message: joined(&violations),
                details: json!({ "violations": violations }),
            },
            ServiceError::Lint(findings) => ApiError::Unprocessable {
                code: "lint_failed",
                message: "the message has errors that block sending".into(),
                details: json!({ "findings": findings }),
            },
            ServiceError::Policy {
                rule,
                explanation,
                profile,
            } => ApiError::Unprocessable {
                code: "policy_denied",
                message: explanation,
                details: json!({ "rule": rule, "profile": profile }),
            },
            ServiceError::Invalid { field, message } => ApiError::Invalid { field, message },
            ServiceError::Unauthenticated => ApiError::Unauthenticated,
            ServiceError::InvalidCredentials => ApiError::InvalidCredentials,
            ServiceError::Throttled { retry_after_secs } => ApiError::Throttled(retry_after_secs),
            e @ ServiceError::Forbidden(_) => ApiError::Forbidden(e.to_string()),
            ServiceError::NotFound => ApiError::NotFound,
            ServiceError::Conflict(what) => ApiError::Conflict(what),
            e @ ServiceError::AuthorInactive => ApiError::Conflict(e.to_string()),
            e @ ServiceError::IdempotencyKeyReused => ApiError::Unprocessable {
                code: "idempotency_key_reused",
                message: e.to_string(),
                details: json!({}),
            },
            ServiceError::Unavailable => ApiError::Unavailable,
            ServiceError::Internal => ApiError::Internal,
        }
    }
}

fn joined(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut error = json!({ "code": code, "message": self.to_string() });
        match &self {
            ApiError::Invalid { field, .. } => error["field"] = json!(field),
            ApiError::Unprocessable { details, .. } => {
                if let Some(map) = details.as_object() {
                    for (k, v) in map {
                        error[k] = v.clone();
                    }
                }
            }
            _ => {}
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if matches!(self, ApiError::PayloadTooLarge(_)) {
            // What is left of the body may be unread (see `body.rs`): this connection cannot be
            // reused, and saying so makes hyper close it after the response, not before.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if let ApiError::Throttled(secs) = self
            && let Ok(value) = axum::http::HeaderValue::from_str(&secs.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, value);
        }
        if matches!(self, ApiError::Unavailable) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
