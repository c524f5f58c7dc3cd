-- People who work in Switchboard, the teams that group them with channels, their sessions and
-- personal API tokens, and the audit log of what they did.
-- Users are deactivated, never deleted: messages and notes keep their authors.
-- Secrets are never stored: sessions and tokens by their SHA-256, passwords as argon2id PHC strings.
CREATE TABLE users (
    id              {{ID}},
    email           TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    password_hash   TEXT    NOT NULL,
    locale          TEXT    NOT NULL,
    time_zone       TEXT    NOT NULL,
    availability    TEXT    NOT NULL,
    capacity        BIGINT  NOT NULL,
    active          BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);

CREATE TABLE teams (
    id              {{ID}},
    name            TEXT    NOT NULL UNIQUE,
    auto_assign     BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL
);

CREATE TABLE team_members (
    team_id         BIGINT  NOT NULL REFERENCES teams (id),
    user_id         BIGINT  NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);

CREATE TABLE team_channels (
    team_id         BIGINT  NOT NULL REFERENCES teams (id),
    channel_id      BIGINT  NOT NULL REFERENCES channels (id),
    PRIMARY KEY (team_id, channel_id)
);
CREATE INDEX team_channels_by_channel ON team_channels (channel_id);

CREATE TABLE sessions (
    id              {{ID}},
    token_hash      TEXT    NOT NULL UNIQUE,
    user_id         BIGINT  NOT NULL REFERENCES users (id),
    csrf_token      TEXT    NOT NULL,
    ip              TEXT,
    user_agent      TEXT,
    created_at      BIGINT  NOT NULL,
    expires_at      BIGINT  NOT NULL,
    revoked_at      BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id              {{ID}},
    token_hash      TEXT    NOT NULL UNIQUE,
    user_id         BIGINT  NOT NULL REFERENCES users (id),
    name            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_used_at    BIGINT,
    revoked_at      BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE audit_log (
    id              {{ID}},
    at              BIGINT  NOT NULL,
    actor           TEXT    NOT NULL,
    user_id         BIGINT,
    action          TEXT    NOT NULL,
    target          TEXT,
    detail          TEXT    NOT NULL,
    ip              TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at);
