//! Users, teams, sessions, personal API tokens and the audit log.
//!
//! The store keeps what the service layer decided; it checks nothing about who may do what.
//! Secrets never reach it in the clear: sessions and tokens arrive as SHA-256 digests (hex),
//! passwords as argon2id PHC strings.

use sqlx::any::AnyRow;
use switchboard_domain::{Availability, ChannelId, Email, Millis, Role, TeamId, UserId};

use crate::rows::{get, placeholders};
use crate::{Result, Store, StoreError};

/// A user as the rest of the system sees them (no password hash).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub locale: String,
    pub time_zone: String,
    pub availability: Availability,
    /// How many open conversations auto-assignment gives this user at most.
    pub capacity: i64,
    pub active: bool,
    pub team_ids: Vec<TeamId>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: Email,
    pub name: String,
    pub role: Role,
    /// An argon2id PHC string.
    pub password_hash: String,
    pub locale: String,
    pub time_zone: String,
    pub capacity: i64,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub password_hash: Option<String>,
    pub locale: Option<String>,
    pub time_zone: Option<String>,
    pub availability: Option<Availability>,
    pub capacity: Option<i64>,
    pub active: Option<bool>,
    pub team_ids: Option<Vec<TeamId>>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TeamRow {
    pub id: TeamId,
    pub name: String,
    pub auto_assign: bool,
    pub channel_ids: Vec<ChannelId>,
    pub member_ids: Vec<UserId>,
    pub created_at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: UserId,
    pub csrf_token: &'a str,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub expires_at: Millis,
}

/// A live session: its user and the CSRF token state-changing requests must echo.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: i64,
    pub user: UserRow,
    pub csrf_token: String,
    pub expires_at: Millis,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApiTokenRow {
    pub id: i64,
    pub name: String,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
}

/// One line of the audit log: who (`actor` is `user:<id>`, `token:<id>`, `admin-token` or
/// `system`), did what, to what, from where.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Millis,
    pub actor: String,
    pub user_id: Option<UserId>,
    pub action: String,
    pub target: Option<String>,
    pub detail: serde_json::Value,
    pub ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewAuditEntry<'a> {
    pub actor: &'a str,
    pub user_id: Option<UserId>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub detail: &'a serde_json::Value,
    pub ip: Option<&'a str>,
}

const USER_COLUMNS: &str = "u.id, u.email, u.name, u.role, u.locale, u.time_zone, u.availability, \
     u.capacity, u.active, u.created_at, u.updated_at";

fn user_from_row(row: &AnyRow) -> Result<UserRow> {
    let role: String = get(row, "role")?;
    let availability: String = get(row, "availability")?;
    Ok(UserRow {
        id: UserId(get(row, "id")?),
        email: get(row, "email")?,
        name: get(row, "name")?,
        role: role
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("role: {e}")))?,
        locale: get(row, "locale")?,
        time_zone: get(row, "time_zone")?,
        availability: availability
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("availability: {e}")))?,
        capacity: get(row, "capacity")?,
        active: get::<i64>(row, "active")? != 0,
        team_ids: Vec::new(),
        created_at: Millis(get(row, "created_at")?),
        updated_at: Millis(get(row, "updated_at")?),
    })
}

impl Store {
    /// Stores a new user. An e-mail address already taken is a `Conflict`.
    pub async fn create_user(&self, new: NewUser, now: Millis) -> Result<UserRow> {
        let row = sqlx::query(
            "INSERT INTO users (email, name, role, password_hash, locale, time_zone, availability,
                                capacity, active, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'offline', $7, 1, $8, $8) RETURNING id",
        )
        .bind(new.email.as_str())
        .bind(&new.name)
        .bind(new.role.as_str())
        .bind(&new.password_hash)
        .bind(&new.locale)
        .bind(&new.time_zone)
        .bind(new.capacity)
        .bind(now.0)
        .fetch_one(&self.write)
        .await?;
        self.get_user(UserId(get(&row, "id")?)).await
    }

    pub async fn get_user(&self, id: UserId) -> Result<UserRow> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.read)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut user = user_from_row(&row)?;
        user.team_ids = self.team_ids_of(id).await?;
        Ok(user)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRow>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"
        )))
        .fetch_all(&self.read)
        .await?;
        let memberships = sqlx::query("SELECT team_id, user_id FROM team_members")
            .fetch_all(&self.read)
            .await?;
        let mut users = rows.iter().map(user_from_row).collect::<Result<Vec<_>>>()?;
        for m in &memberships {
            let user = UserId(get(m, "user_id")?);
            if let Some(u) = users.iter_mut().find(|u| u.id == user) {
                u.team_ids.push(TeamId(get(m, "team_id")?));
            }
        }
        for u in &mut users {
            u.team_ids.sort();
        }
        Ok(users)
    }

    /// The user and password hash for a login attempt, active or not (the caller decides).
    pub async fn credentials_by_email(&self, email: &Email) -> Result<Option<(UserRow, String)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1"
        )))
        .bind(email.as_str())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut user = user_from_row(&row)?;
        user.team_ids = self.team_ids_of(user.id).await?;
        Ok(Some((user, get(&row, "password_hash")?)))
    }

    pub async fn password_hash(&self, id: UserId) -> Result<String> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound)?;
        get(&row, "password_hash")
    }

    /// Applies the changes in one transaction. A deactivated user's sessions and tokens stop
    /// working at once (they are checked against `active` on every request).
    pub async fn update_user(
        &self,
        id: UserId,
        changes: UserChanges,
        now: Millis,
    ) -> Result<UserRow> {
        let mut tx = self.write.begin().await?;
        let exists = sqlx::query("SELECT id FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let fields: [(&str, Option<Column>); 8] = [
            ("name", changes.name.map(Column::Text)),
            (
                "role",
                changes.role.map(|r| Column::Text(r.as_str().into())),
            ),
            ("password_hash", changes.password_hash.map(Column::Text)),
            ("locale", changes.locale.map(Column::Text)),
            ("time_zone", changes.time_zone.map(Column::Text)),
            (
                "availability",
                changes
                    .availability
                    .map(|a| Column::Text(a.as_str().into())),
            ),
            ("capacity", changes.capacity.map(Column::Number)),
            ("active", changes.active.map(|a| Column::Number(a.into()))),
        ];
        for (column, value) in fields {
            let Some(value) = value else { continue };
            let sql = format!("UPDATE users SET {column} = $1, updated_at = $2 WHERE id = $3");
            let query = sqlx::query(sqlx::AssertSqlSafe(sql));
            let query = match value {
                Column::Text(text) => query.bind(text),
                Column::Number(n) => query.bind(n),
            };
            query.bind(now.0).bind(id.0).execute(&mut *tx).await?;
        }
        if let Some(teams) = changes.team_ids {
            sqlx::query("DELETE FROM team_members WHERE user_id = $1")
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            for team in teams {
                sqlx::query("INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)")
                    .bind(team.0)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(missing_reference)?;
            }
        }
        tx.commit().await?;
        self.get_user(id).await
    }

    async fn team_ids_of(&self, user: UserId) -> Result<Vec<TeamId>> {
        let rows =
            sqlx::query("SELECT team_id FROM team_members WHERE user_id = $1 ORDER BY team_id")
                .bind(user.0)
                .fetch_all(&self.read)
                .await?;
        rows.iter()
            .map(|r| Ok(TeamId(get(r, "team_id")?)))
            .collect()
    }

    /// The channels whose conversations a user's teams answer.
    pub async fn channels_of_user(&self, user: UserId) -> Result<Vec<ChannelId>> {
        let rows = sqlx::query(
            "SELECT DISTINCT tc.channel_id FROM team_channels tc
             JOIN team_members tm ON tm.team_id = tc.team_id
             WHERE tm.user_id = $1 ORDER BY tc.channel_id",
        )
        .bind(user.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok(ChannelId(get(r, "channel_id")?)))
            .collect()
    }

    pub async fn create_team(
        &self,
        name: &str,
        auto_assign: bool,
        channels: &[ChannelId],
        now: Millis,
    ) -> Result<TeamRow> {
        let mut tx = self.write.begin().await?;
        let row = sqlx::query(
            "INSERT INTO teams (name, auto_assign, created_at) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(i64::from(auto_assign))
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await?;
        let id = TeamId(get(&row, "id")?);
        for channel in channels {
            sqlx::query("INSERT INTO team_channels (team_id, channel_id) VALUES ($1, $2)")
                .bind(id.0)
                .bind(channel.0)
                .execute(&mut *tx)
                .await
                .map_err(missing_reference)?;
        }
        tx.commit().await?;
        self.get_team(id).await
    }

    pub async fn get_team(&self, id: TeamId) -> Result<TeamRow> {
        self.list_teams()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or(StoreError::NotFound)
    }

    pub async fn list_teams(&self) -> Result<Vec<TeamRow>> {
        let teams = sqlx::query("SELECT id, name, auto_assign, created_at FROM teams ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        let channels = sqlx::query("SELECT team_id, channel_id FROM team_channels")
            .fetch_all(&self.read)
            .await?;
        let members = sqlx::query("SELECT team_id, user_id FROM team_members")
            .fetch_all(&self.read)
            .await?;
        let mut out = Vec::with_capacity(teams.len());
        for t in &teams {
            let id: i64 = get(t, "id")?;
            let mut channel_ids = Vec::new();
            for c in &channels {
                if get::<i64>(c, "team_id")? == id {
                    channel_ids.push(ChannelId(get(c, "channel_id")?));
                }
            }
            let mut member_ids = Vec::new();
            for m in &members {
                if get::<i64>(m, "team_id")? == id {
                    member_ids.push(UserId(get(m, "user_id")?));
                }
            }
            channel_ids.sort();
            member_ids.sort();
            out.push(TeamRow {
                id: TeamId(id),
                name: get(t, "name")?,
                auto_assign: get::<i64>(t, "auto_assign")? != 0,
                channel_ids,
                member_ids,
                created_at: Millis(get(t, "created_at")?),
            });
        }
        Ok(out)
    }

    pub async fn create_session(&self, new: NewSession<'_>, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, ip, user_agent, created_at,
                                   expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(new.token_hash)
        .bind(new.user_id.0)
        .bind(new.csrf_token)
        .bind(new.ip)
        .bind(new.user_agent)
        .bind(now.0)
        .bind(new.expires_at.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The session with this token digest if it is neither expired nor revoked and its user is
    /// active.
    pub async fn live_session(&self, token_hash: &str, now: Millis) -> Result<Option<SessionRow>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, s.id AS session_id, s.csrf_token, s.expires_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2
               AND u.active = 1"
        )))
        .bind(token_hash)
        .bind(now.0)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut user = user_from_row(&row)?;
        user.team_ids = self.team_ids_of(user.id).await?;
        Ok(Some(SessionRow {
            id: get(&row, "session_id")?,
            user,
            csrf_token: get(&row, "csrf_token")?,
            expires_at: Millis(get(&row, "expires_at")?),
        }))
    }

    pub async fn revoke_session(&self, token_hash: &str, now: Millis) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(token_hash)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// Ends every session of a user (a password change, a deactivation), but `keep`.
    pub async fn revoke_sessions_of(
        &self,
        user: UserId,
        keep: Option<i64>,
        now: Millis,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1
             WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
        )
        .bind(now.0)
        .bind(user.0)
        .bind(keep.unwrap_or(-1))
        .execute(&self.write)
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        token_hash: &str,
        now: Millis,
    ) -> Result<ApiTokenRow> {
        let row = sqlx::query(
            "INSERT INTO api_tokens (token_hash, user_id, name, created_at) VALUES ($1, $2, $3, $4)
             RETURNING id",
        )
        .bind(token_hash)
        .bind(user.0)
        .bind(name)
        .bind(now.0)
        .fetch_one(&self.write)
        .await?;
        Ok(ApiTokenRow {
            id: get(&row, "id")?,
            name: name.to_owned(),
            created_at: now,
            last_used_at: None,
        })
    }

    pub async fn list_api_tokens(&self, user: UserId) -> Result<Vec<ApiTokenRow>> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at FROM api_tokens
             WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id",
        )
        .bind(user.0)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiTokenRow {
                    id: get(r, "id")?,
                    name: get(r, "name")?,
                    created_at: Millis(get(r, "created_at")?),
                    last_used_at: get::<Option<i64>>(r, "last_used_at")?.map(Millis),
                })
            })
            .collect()
    }

    /// Revokes one of a user's tokens; `NotFound` if it is not theirs or already revoked.
    pub async fn revoke_api_token(&self, user: UserId, id: i64, now: Millis) -> Result<()> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1
             WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(id)
        .bind(user.0)
        .execute(&self.write)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The token's id and its active user, if the token is live. `last_used_at` is refreshed at
    /// most once a minute, so a busy integration does not write on every call.
    pub async fn user_by_api_token(
        &self,
        token_hash: &str,
        now: Millis,
    ) -> Result<Option<(i64, UserRow)>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, t.id AS token_id, t.last_used_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active = 1"
        )))
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let token_id: i64 = get(&row, "token_id")?;
        let last_used: Option<i64> = get(&row, "last_used_at")?;
        if last_used.is_none_or(|t| now.0 - t > 60_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now.0)
                .bind(token_id)
                .execute(&self.write)
                .await?;
        }
        let mut user = user_from_row(&row)?;
        user.team_ids = self.team_ids_of(user.id).await?;
        Ok(Some((token_id, user)))
    }

    pub async fn record_audit(&self, entry: NewAuditEntry<'_>, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, user_id, action, target, detail, ip)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(now.0)
        .bind(entry.actor)
        .bind(entry.user_id.map(|u| u.0))
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.detail.to_string())
        .bind(entry.ip)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The newest entries first; `before` (an entry id) pages further back.
    pub async fn list_audit(&self, before: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT id, at, actor, user_id, action, target, detail, ip FROM audit_log
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                let detail: String = get(r, "detail")?;
                Ok(AuditEntry {
                    id: get(r, "id")?,
                    at: Millis(get(r, "at")?),
                    actor: get(r, "actor")?,
                    user_id: get::<Option<i64>>(r, "user_id")?.map(UserId),
                    action: get(r, "action")?,
                    target: get(r, "target")?,
                    detail: serde_json::from_str(&detail)
                        .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
                    ip: get(r, "ip")?,
                })
            })
            .collect()
    }

    /// How many users exist (the CLI refuses a first user who is not an owner).
    pub async fn count_users(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.read)
            .await?;
        get(&row, "n")
    }

    /// Whether every given channel exists (a team naming a missing one is refused up front).
    pub async fn channels_exist(&self, channels: &[ChannelId]) -> Result<bool> {
        if channels.is_empty() {
            return Ok(true);
        }
        let sql = format!(
            "SELECT COUNT(*) AS n FROM channels WHERE id IN ({})",
            placeholders(0, channels.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in channels {
            q = q.bind(c.0);
        }
        let row = q.fetch_one(&self.read).await?;
        let mut distinct = channels.to_vec();
        distinct.sort();
        distinct.dedup();
        Ok(get::<i64>(&row, "n")? == distinct.len() as i64)
    }
}

/// A new value for one column of `users`.
enum Column {
    Text(String),
    Number(i64),
}

/// A foreign key naming a row that does not exist is the caller's mistake, not an outage.
fn missing_reference(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::Conflict(
            format!("refers to a row that does not exist: {}", db.message()),
        ),
        _ => e.into(),
    }
}
