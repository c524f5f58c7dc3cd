//! Authentication on the router: every route is private unless `app::router` puts it among the
//! public ones. The [`authenticate`] layer turns credentials into an [`Actor`] before any handler
//! runs; handlers take the `Actor` and hand it to the service layer, which checks the role.
//!
//! Credentials, in order:
//! - `Authorization: Bearer <token>`: a personal API token (`sb_pat_…`) or the admin token;
//!   no CSRF check (a browser never adds this header on its own).
//! - the `sb_session` cookie: a browser session. Requests that change state (anything but GET,
//!   HEAD, OPTIONS) must echo the session's CSRF token in `x-csrf-token`, compared in constant
//!   time; `GET /api/v1/me` tells the page its token.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use switchboard_service::secrets::secrets_equal;
use switchboard_service::{Actor, Credential};

use crate::app::AppState;
use crate::error::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sb_session";
/// The header a cookie-authenticated state change carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session's CSRF token, for `GET /api/v1/me` to hand to the page.
#[derive(Clone)]
pub struct CsrfToken(pub String);

/// The raw session cookie of the request, for logout.
#[derive(Clone)]
pub struct SessionCookie(pub String);

/// The middleware of every private route.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = client_ip(request.extensions());
    let method = request.method().clone();
    match actor_of(&state, request.headers(), &method, ip).await {
        Ok((actor, session)) => {
            request.extensions_mut().insert(actor);
            if let Some((cookie, csrf)) = session {
                request.extensions_mut().insert(SessionCookie(cookie));
                request.extensions_mut().insert(CsrfToken(csrf));
            }
            next.run(request).await
        }
        Err(e) => e.into_response(),
    }
}

type Authenticated = (Actor, Option<(String, String)>);

async fn actor_of(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    ip: Option<String>,
) -> Result<Authenticated, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthenticated)?;
        return Ok((state.service.authenticate_bearer(token, ip).await?, None));
    }
    let cookie = session_cookie(headers).ok_or(ApiError::Unauthenticated)?;
    let session = state.service.authenticate_session(&cookie, ip).await?;
    if changes_state(method) {
        let presented = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !secrets_equal(presented, &session.csrf_token) {
            return Err(ApiError::Forbidden(
                "missing or wrong CSRF token (x-csrf-token; GET /api/v1/me tells it)".into(),
            ));
        }
    }
    Ok((session.actor, Some((cookie, session.csrf_token))))
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The value of the `sb_session` cookie, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty())
}

/// The peer's address (Switchboard trusts no forwarding header unless told to; none is today).
pub fn client_ip(extensions: &axum::http::Extensions) -> Option<String> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// The client's address, when the server knows it.
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(&parts.extensions)))
    }
}

/// The authenticated caller, put there by [`authenticate`].
impl<S: Send + Sync> FromRequestParts<S> for ActorOf {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(ActorOf)
            .ok_or(ApiError::Unauthenticated)
    }
}

/// Extractor of the request's [`Actor`].
pub struct ActorOf(pub Actor);

impl ActorOf {
    pub fn is_session(&self) -> bool {
        matches!(self.0.credential, Credential::Session { .. })
    }
}
