//! People: who they are (authentication), logging in and out, users, teams, personal API tokens
//! and the audit log.

use std::time::Instant;

use serde::Deserialize;
use serde_json::json;
use switchboard_domain::{Availability, ChannelId, Email, Millis, Role, TeamId, UserId};
use switchboard_storage::{
    ApiTokenRow, AuditEntry, NewSession, NewUser, TeamRow, UserChanges, UserRow,
};

use crate::Service;
use crate::actor::{Actor, Credential, Permission, Scope};
use crate::error::{ServiceError, ServiceResult};
use crate::secrets::{API_TOKEN_PREFIX, Password, new_secret, token_digest};

/// A successful login: the secrets go into the cookie and the page, never into a log.
#[derive(Debug)]
pub struct LoggedIn {
    pub user: UserRow,
    pub session_token: String,
    pub csrf_token: String,
    pub expires_at: Millis,
}

/// A session found from its cookie.
#[derive(Debug)]
pub struct SessionActor {
    pub actor: Actor,
    pub csrf_token: String,
}

/// A new user, as an owner or admin gives it (`POST /api/v1/users`, `switchboard user create`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRequest {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password: String,
    #[serde(default)]
    pub team_ids: Vec<TeamId>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub capacity: Option<i64>,
}

/// Changes an owner or admin makes to a user (`PATCH /api/v1/users/{id}`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    #[serde(default)]
    pub team_ids: Option<Vec<TeamId>>,
    #[serde(default)]
    pub capacity: Option<i64>,
    #[serde(default)]
    pub availability: Option<Availability>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub active: Option<bool>,
}

/// Changes people make to themselves (`PATCH /api/v1/me`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub availability: Option<Availability>,
    /// A new password; needs `current_password`.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub current_password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamRequest {
    pub name: String,
    #[serde(default)]
    pub channel_ids: Vec<ChannelId>,
    #[serde(default)]
    pub auto_assign: bool,
}

/// The UI languages Switchboard ships (the web app's catalogs).
pub const LOCALES: [&str; 5] = ["en", "it", "id", "fi", "ar"];

/// Auto-assignment's default seat count per agent.
pub const DEFAULT_CAPACITY: i64 = 10;

fn locale(raw: &str) -> ServiceResult<String> {
    LOCALES
        .iter()
        .find(|l| **l == raw)
        .map(|l| (*l).to_owned())
        .ok_or_else(|| ServiceError::Invalid {
            field: "locale",
            message: format!("one of {}", LOCALES.join(", ")),
        })
}

fn time_zone(raw: &str) -> ServiceResult<String> {
    jiff::tz::TimeZone::get(raw)
        .map(|_| raw.to_owned())
        .map_err(|_| ServiceError::Invalid {
            field: "time_zone",
            message: format!("{raw:?} is not an IANA time zone (e.g. Europe/Rome)"),
        })
}

fn name(raw: &str) -> ServiceResult<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 {
        return Err(ServiceError::Invalid {
            field: "name",
            message: "a name has 1–100 characters".into(),
        });
    }
    Ok(trimmed.to_owned())
}

fn capacity(raw: i64) -> ServiceResult<i64> {
    if (0..=1000).contains(&raw) {
        Ok(raw)
    } else {
        Err(ServiceError::Invalid {
            field: "capacity",
            message: "capacity is 0–1000 open conversations".into(),
        })
    }
}

impl Service {
    /// Who a bearer token is: the admin token, or a user's personal API token.
    pub async fn authenticate_bearer(
        &self,
        token: &str,
        ip: Option<String>,
    ) -> ServiceResult<Actor> {
        if token.starts_with(API_TOKEN_PREFIX) {
            let found = self
                .store
                .user_by_api_token(&token_digest(token), Millis::now())
                .await?;
            return match found {
                Some((token_id, user)) => {
                    Ok(Actor::user(user, Credential::ApiToken { token_id }, ip))
                }
                None => Err(ServiceError::Unauthenticated),
            };
        }
        match &self.config.admin_token {
            Some(admin) if admin.matches(token) => Ok(Actor::admin_token(ip)),
            _ => Err(ServiceError::Unauthenticated),
        }
    }

    /// Who a session cookie belongs to, with the CSRF token their state changes must carry.
    pub async fn authenticate_session(
        &self,
        session_token: &str,
        ip: Option<String>,
    ) -> ServiceResult<SessionActor> {
        let session = self
            .store
            .live_session(&token_digest(session_token), Millis::now())
            .await?
            .ok_or(ServiceError::Unauthenticated)?;
        Ok(SessionActor {
            actor: Actor::user(
                session.user,
                Credential::Session {
                    session_id: session.id,
                },
                ip,
            ),
            csrf_token: session.csrf_token,
        })
    }

    /// Logs in by e-mail and password. A wrong password, an unknown e-mail and a deactivated
    /// account all answer [`ServiceError::InvalidCredentials`], after the same argon2 work.
    pub async fn login(
        &self,
        email: &str,
        password: String,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> ServiceResult<LoggedIn> {
        let account = email.trim().to_lowercase();
        if let Some(wait) = self.throttle.check(&account, ip.as_deref(), Instant::now()) {
            return Err(ServiceError::Throttled {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        let found = match Email::parse(email) {
            Ok(email) => self.store.credentials_by_email(&email).await?,
            Err(_) => None,
        };
        let (user, hash) = match found {
            Some((user, hash)) if user.active => (Some(user), Some(hash)),
            _ => (None, None),
        };
        let ok = Password::attempt(password).verify(hash).await;
        let Some(user) = user.filter(|_| ok) else {
            self.throttle
                .failed(&account, ip.as_deref(), Instant::now());
            tracing::info!(ip = ip.as_deref().unwrap_or("-"), "failed login");
            return Err(ServiceError::InvalidCredentials);
        };
        self.throttle.succeeded(&account);
        let session_token = new_secret();
        let csrf_token = new_secret();
        let now = Millis::now();
        let ttl = i64::try_from(self.config.session_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let expires_at = Millis(now.0.saturating_add(ttl));
        self.store
            .create_session(
                NewSession {
                    token_hash: &token_digest(&session_token),
                    user_id: user.id,
                    csrf_token: &csrf_token,
                    ip: ip.as_deref(),
                    user_agent: user_agent.as_deref(),
                    expires_at,
                },
                now,
            )
            .await?;
        let actor = Actor::user(user.clone(), Credential::System, ip);
        self.audit(
            &actor,
            "auth.login",
            Some(format!("user:{}", user.id)),
            json!({}),
        )
        .await?;
        Ok(LoggedIn {
            user,
            session_token,
            csrf_token,
            expires_at,
        })
    }

    /// Ends the session behind this cookie value (and only it).
    pub async fn logout(&self, actor: &Actor, session_token: &str) -> ServiceResult<()> {
        self.store
            .revoke_session(&token_digest(session_token), Millis::now())
            .await?;
        self.audit(actor, "auth.logout", None, json!({})).await
    }

    /// The actor as a user, or a refusal for credentials without one (the admin token).
    fn own_user(actor: &Actor) -> ServiceResult<&UserRow> {
        actor.user.as_deref().ok_or(ServiceError::Invalid {
            field: "credentials",
            message: "the admin token is not a user; log in or use a personal token".into(),
        })
    }

    pub async fn me(&self, actor: &Actor) -> ServiceResult<Option<UserRow>> {
        match actor.user_id() {
            Some(id) => Ok(Some(self.store.get_user(id).await?)),
            None => Ok(None),
        }
    }

    pub async fn update_me(&self, actor: &Actor, patch: ProfilePatch) -> ServiceResult<UserRow> {
        let me = Self::own_user(actor)?.clone();
        let mut changes = UserChanges {
            name: patch.name.as_deref().map(name).transpose()?,
            locale: patch.locale.as_deref().map(locale).transpose()?,
            time_zone: patch.time_zone.as_deref().map(time_zone).transpose()?,
            availability: patch.availability,
            ..UserChanges::default()
        };
        let changing_password = patch.password.is_some();
        if let Some(new) = patch.password {
            let new = Password::new(new)?;
            let current = patch.current_password.ok_or(ServiceError::Invalid {
                field: "current_password",
                message: "changing the password needs the current one".into(),
            })?;
            let stored = self.store.password_hash(me.id).await?;
            if !Password::attempt(current).verify(Some(stored)).await {
                return Err(ServiceError::Invalid {
                    field: "current_password",
                    message: "the current password is wrong".into(),
                });
            }
            changes.password_hash = Some(new.hash().await?);
        }
        let user = self
            .store
            .update_user(me.id, changes, Millis::now())
            .await?;
        if changing_password {
            // Everyone else holding this account's sessions is logged out; this one stays.
            let keep = match actor.credential {
                Credential::Session { session_id } => Some(session_id),
                _ => None,
            };
            self.store
                .revoke_sessions_of(me.id, keep, Millis::now())
                .await?;
            self.audit(
                actor,
                "user.password_changed",
                Some(format!("user:{}", me.id)),
                json!({}),
            )
            .await?;
        }
        Ok(user)
    }

    /// A personal API token for the actor; the only time its value is seen.
    pub async fn create_api_token(
        &self,
        actor: &Actor,
        token_name: Option<String>,
    ) -> ServiceResult<(String, ApiTokenRow)> {
        let me = Self::own_user(actor)?;
        let label = name(token_name.as_deref().unwrap_or("API token"))?;
        let token = format!("{API_TOKEN_PREFIX}{}", new_secret());
        let row = self
            .store
            .create_api_token(me.id, &label, &token_digest(&token), Millis::now())
            .await?;
        self.audit(
            actor,
            "token.created",
            Some(format!("token:{}", row.id)),
            json!({ "name": label }),
        )
        .await?;
        Ok((token, row))
    }

    pub async fn list_api_tokens(&self, actor: &Actor) -> ServiceResult<Vec<ApiTokenRow>> {
        let me = Self::own_user(actor)?;
        Ok(self.store.list_api_tokens(me.id).await?)
    }

    pub async fn revoke_api_token(&self, actor: &Actor, id: i64) -> ServiceResult<()> {
        let me = Self::own_user(actor)?;
        self.store
            .revoke_api_token(me.id, id, Millis::now())
            .await?;
        self.audit(
            actor,
            "token.revoked",
            Some(format!("token:{id}")),
            json!({}),
        )
        .await
    }

    pub async fn list_users(&self, actor: &Actor) -> ServiceResult<Vec<UserRow>> {
        actor.require(Permission::ViewPeople)?;
        Ok(self.store.list_users().await?)
    }

    /// Creates a user. Only owners create owners; admins create everyone else.
    pub async fn create_user(&self, actor: &Actor, req: UserRequest) -> ServiceResult<UserRow> {
        actor.require(Permission::ManageUsers)?;
        if req.role == Role::Owner {
            actor.require(Permission::ManageOwners)?;
        }
        let email = Email::parse(&req.email).map_err(|e| ServiceError::Invalid {
            field: "email",
            message: e.to_string(),
        })?;
        let new = NewUser {
            email,
            name: name(&req.name)?,
            role: req.role,
            password_hash: Password::new(req.password)?.hash().await?,
            locale: locale(req.locale.as_deref().unwrap_or("en"))?,
            time_zone: time_zone(req.time_zone.as_deref().unwrap_or("UTC"))?,
            capacity: capacity(req.capacity.unwrap_or(DEFAULT_CAPACITY))?,
        };
        self.check_teams(&req.team_ids).await?;
        let now = Millis::now();
        let user = match self.store.create_user(new, now).await {
            Err(switchboard_storage::StoreError::Conflict(_)) => {
                return Err(ServiceError::Conflict(
                    "a user with this e-mail address exists".into(),
                ));
            }
            other => other?,
        };
        let user = if req.team_ids.is_empty() {
            user
        } else {
            let changes = UserChanges {
                team_ids: Some(req.team_ids),
                ..UserChanges::default()
            };
            self.store.update_user(user.id, changes, now).await?
        };
        self.audit(
            actor,
            "user.created",
            Some(format!("user:{}", user.id)),
            json!({ "email": user.email, "role": user.role }),
        )
        .await?;
        Ok(user)
    }

    /// Changes a user. Owners are changed only by owners, and nobody makes themselves more
    /// powerful; the last active owner cannot be demoted or deactivated.
    pub async fn update_user(
        &self,
        actor: &Actor,
        id: UserId,
        patch: UserPatch,
    ) -> ServiceResult<UserRow> {
        actor.require(Permission::ManageUsers)?;
        let target = self.store.get_user(id).await?;
        if target.role == Role::Owner || patch.role == Some(Role::Owner) {
            actor.require(Permission::ManageOwners)?;
        }
        let demotes_owner = target.role == Role::Owner
            && (patch.role.is_some_and(|r| r != Role::Owner) || patch.active == Some(false));
        if demotes_owner {
            let owners = self
                .store
                .list_users()
                .await?
                .into_iter()
                .filter(|u| u.role == Role::Owner && u.active)
                .count();
            if owners <= 1 {
                return Err(ServiceError::Conflict(
                    "this is the last active owner; make someone else owner first".into(),
                ));
            }
        }
        if let Some(teams) = &patch.team_ids {
            self.check_teams(teams).await?;
        }
        let deactivating = patch.active == Some(false);
        let changes = UserChanges {
            name: patch.name.as_deref().map(name).transpose()?,
            role: patch.role,
            locale: patch.locale.as_deref().map(locale).transpose()?,
            time_zone: patch.time_zone.as_deref().map(time_zone).transpose()?,
            availability: patch.availability,
            capacity: patch.capacity.map(capacity).transpose()?,
            active: patch.active,
            team_ids: patch.team_ids.clone(),
            password_hash: None,
        };
        let user = self.store.update_user(id, changes, Millis::now()).await?;
        if deactivating {
            self.store
                .revoke_sessions_of(id, None, Millis::now())
                .await?;
        }
        self.audit(
            actor,
            "user.updated",
            Some(format!("user:{id}")),
            json!({
                "role": patch.role,
                "active": patch.active,
                "team_ids": patch.team_ids,
                "capacity": patch.capacity,
            }),
        )
        .await?;
        Ok(user)
    }

    async fn check_teams(&self, teams: &[TeamId]) -> ServiceResult<()> {
        let known = self.store.list_teams().await?;
        for team in teams {
            if !known.iter().any(|t| t.id == *team) {
                return Err(ServiceError::Invalid {
                    field: "team_ids",
                    message: format!("there is no team {team}"),
                });
            }
        }
        Ok(())
    }

    pub async fn list_teams(&self, actor: &Actor) -> ServiceResult<Vec<TeamRow>> {
        actor.require(Permission::ViewPeople)?;
        Ok(self.store.list_teams().await?)
    }

    pub async fn create_team(&self, actor: &Actor, req: TeamRequest) -> ServiceResult<TeamRow> {
        actor.require(Permission::ManageTeams)?;
        let team_name = name(&req.name)?;
        if !self.store.channels_exist(&req.channel_ids).await? {
            return Err(ServiceError::Invalid {
                field: "channel_ids",
                message: "a channel in channel_ids does not exist".into(),
            });
        }
        let team = match self
            .store
            .create_team(&team_name, req.auto_assign, &req.channel_ids, Millis::now())
            .await
        {
            Err(switchboard_storage::StoreError::Conflict(_)) => {
                return Err(ServiceError::Conflict(
                    "a team with this name exists".into(),
                ));
            }
            other => other?,
        };
        self.audit(
            actor,
            "team.created",
            Some(format!("team:{}", team.id)),
            json!({ "name": team.name }),
        )
        .await?;
        Ok(team)
    }

    /// Which conversations the actor may see: everything for supervisors and up, their teams'
    /// channels for agents; nothing (a refusal) for roles that read no conversations.
    pub async fn conversation_scope(&self, actor: &Actor) -> ServiceResult<Scope> {
        if actor.may(Permission::ReadAllConversations) {
            return Ok(Scope::All);
        }
        actor.require(Permission::ReadTeamConversations)?;
        let user = actor.user_id().ok_or(ServiceError::Internal)?;
        Ok(Scope::Channels(self.store.channels_of_user(user).await?))
    }

    /// Which contacts the actor may see: every contact for contact managers (marketers
    /// included, who see contacts but not conversations), else their conversation scope.
    pub async fn contact_scope(&self, actor: &Actor) -> ServiceResult<Scope> {
        if actor.may(Permission::ManageContacts) {
            return Ok(Scope::All);
        }
        self.conversation_scope(actor).await
    }

    pub async fn audit_log(
        &self,
        actor: &Actor,
        before: Option<i64>,
        limit: i64,
    ) -> ServiceResult<Vec<AuditEntry>> {
        actor.require(Permission::ViewAudit)?;
        Ok(self.store.list_audit(before, limit.clamp(1, 500)).await?)
    }

    /// The first owner, from the command line (`switchboard user create`): the system acts.
    pub async fn bootstrap_user(&self, req: UserRequest) -> ServiceResult<UserRow> {
        self.create_user(&Actor::system(), req).await
    }
}
