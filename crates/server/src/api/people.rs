//! Logging in and out, one's own profile and tokens, users, teams and the audit log.

use axum::Extension;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_domain::UserId;
use switchboard_service::people::{ProfilePatch, TeamRequest, UserPatch, UserRequest};

use super::parse_json;
use crate::app::{AppState, Id};
use crate::auth::{ActorOf, ClientIp, CsrfToken, SESSION_COOKIE, SessionCookie};
use crate::body::LimitedBody;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: String,
    password: String,
}

/// `POST /api/v1/auth/login` `{"email","password"}` → 200 `{"user":…,"csrf_token":…}` and the
/// `sb_session` cookie; 401 `invalid_credentials` for any wrong pair; 429 when throttled.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Response> {
    let req: LoginRequest = parse_json(&body)?;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(300).collect());
    let logged_in = state
        .service
        .login(&req.email, req.password, ip, user_agent)
        .await?;
    let max_age = (logged_in.expires_at.0 - switchboard_domain::Millis::now().0).max(0) / 1000;
    let cookie = session_cookie_header(&logged_in.session_token, max_age, secure_cookies(&state))?;
    let mut response = Json(json!({
        "user": logged_in.user,
        "csrf_token": logged_in.csrf_token,
    }))
    .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Cookies are `Secure` when the public URL is https (a plain-http demo on localhost would
/// otherwise never get its cookie back).
fn secure_cookies(state: &AppState) -> bool {
    state
        .config
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
}

fn session_cookie_header(value: &str, max_age: i64, secure: bool) -> ApiResult<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(|_| ApiError::Internal)
}

/// `POST /api/v1/auth/logout`: ends this session (the cookie is cleared too). With a bearer
/// token there is no session to end; it answers 204 all the same.
pub async fn logout(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    session: Option<Extension<SessionCookie>>,
) -> ApiResult<Response> {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(Extension(SessionCookie(cookie))) = session {
        state.service.logout(&actor, &cookie).await?;
        response.headers_mut().insert(
            header::SET_COOKIE,
            session_cookie_header("", 0, secure_cookies(&state))?,
        );
    }
    Ok(response)
}

/// `GET /api/v1/me`: who the caller is, their role, and (for a browser session) the CSRF token
/// its state-changing requests must send in `x-csrf-token`.
pub async fn me(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    csrf: Option<Extension<CsrfToken>>,
) -> ApiResult<Json<Value>> {
    let user = state.service.me(&actor).await?;
    Ok(Json(json!({
        "user": user,
        "role": actor.role(),
        "actor": actor.label(),
        "csrf_token": csrf.map(|Extension(CsrfToken(t))| t),
    })))
}

/// `PATCH /api/v1/me`: own name, locale, time zone, availability, password.
pub async fn update_me(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<Value>> {
    let patch: ProfilePatch = parse_json(&body)?;
    let user = state.service.update_me(&actor, patch).await?;
    Ok(Json(json!({ "user": user })))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/v1/me/tokens` `{"name"?}` → 201 `{"token","id","name"}`: the only time the token
/// is shown.
pub async fn create_token(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    LimitedBody(body): LimitedBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: TokenRequest = if body.is_empty() {
        TokenRequest::default()
    } else {
        parse_json(&body)?
    };
    let (token, row) = state.service.create_api_token(&actor, req.name).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({ "token": token, "id": row.id, "name": row.name, "created_at": row.created_at }),
        ),
    ))
}

pub async fn list_tokens(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
) -> ApiResult<Json<Value>> {
    let tokens = state.service.list_api_tokens(&actor).await?;
    Ok(Json(json!({ "items": tokens })))
}

pub async fn revoke_token(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<StatusCode> {
    state.service.revoke_api_token(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_users(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
) -> ApiResult<Json<Value>> {
    let users = state.service.list_users(&actor).await?;
    Ok(Json(json!({ "items": users })))
}

/// `POST /api/v1/users` `{"email","name","role","password","team_ids"}` → 201 with the user.
pub async fn create_user(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    LimitedBody(body): LimitedBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: UserRequest = parse_json(&body)?;
    let user = state.service.create_user(&actor, req).await?;
    Ok((StatusCode::CREATED, Json(json!(user))))
}

/// `PATCH /api/v1/users/{id}` (`role`, `team_ids`, `capacity`, `availability`, `locale`,
/// `time_zone`, `active`).
pub async fn update_user(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Id(id): Id,
    LimitedBody(body): LimitedBody,
) -> ApiResult<Json<Value>> {
    let patch: UserPatch = parse_json(&body)?;
    let user = state.service.update_user(&actor, UserId(id), patch).await?;
    Ok(Json(json!(user)))
}

pub async fn list_teams(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
) -> ApiResult<Json<Value>> {
    let teams = state.service.list_teams(&actor).await?;
    Ok(Json(json!({ "items": teams })))
}

/// `POST /api/v1/teams` `{"name","channel_ids","auto_assign"}` → 201 with the team.
pub async fn create_team(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    LimitedBody(body): LimitedBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let req: TeamRequest = parse_json(&body)?;
    let team = state.service.create_team(&actor, req).await?;
    Ok((StatusCode::CREATED, Json(json!(team))))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/audit?before=&limit=`: newest first; `next_before` pages further back.
pub async fn audit(
    ActorOf(actor): ActorOf,
    State(state): State<AppState>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let items = state
        .service
        .audit_log(&actor, q.before, q.limit.unwrap_or(100))
        .await?;
    let next = items.last().map(|e| e.id);
    Ok(Json(json!({ "items": items, "next_before": next })))
}
