//! The service layer's one error type. The server maps it to HTTP in one place
//! (`From<ServiceError> for ApiError`); the web pages render the same values.

use switchboard_domain::rich::Violation;
use switchboard_domain::template::TemplateError;
use switchboard_storage::StoreError;

use crate::actor::Permission;
use crate::compose::FieldFinding;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A template names an unknown variable or does not parse.
    #[error("{field}: invalid template")]
    Template {
        field: String,
        errors: Vec<TemplateError>,
    },
    /// The rendered message breaks a platform limit.
    #[error("the message breaks a platform limit")]
    Limits(Vec<Violation>),
    #[error("a medium cannot be sent")]
    Media(Vec<Violation>),
    /// Lint errors block the send.
    #[error("the message has errors that block sending")]
    Lint(Vec<FieldFinding>),
    /// The channel's policy profile refuses the send; `rule` names why.
    #[error("{explanation}")]
    Policy {
        rule: String,
        explanation: String,
        profile: String,
    },
    /// A field of the request is wrong; `field` names it.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// No credentials, or credentials that do not identify anyone.
    #[error("missing or malformed credentials")]
    Unauthenticated,
    /// A login with a wrong e-mail or password (which of the two is never said).
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    /// Too many failed logins for this account or address.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// The actor is known but their role does not allow this.
    #[error("your role may not {}", .0.describe())]
    Forbidden(Permission),
    /// Absent — or outside what the actor may see, which is said the same way.
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    /// The author of a message sent later was deactivated before it fell due.
    #[error("the author of this message is no longer active")]
    AuthorInactive,
    /// An `Idempotency-Key` reused with a different request body.
    #[error("this Idempotency-Key was used for a different request body")]
    IdempotencyKeyReused,
    /// The database did not answer; try again.
    #[error("temporarily unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ServiceError::NotFound,
            // The database's wording names constraints, not what the caller did; the service
            // checks references itself and says what is missing before writing.
            StoreError::Conflict(_) => ServiceError::Conflict("already exists".into()),
            StoreError::Unavailable(err) => {
                tracing::warn!(error = %err, "database unavailable");
                ServiceError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "storage error");
                ServiceError::Internal
            }
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
