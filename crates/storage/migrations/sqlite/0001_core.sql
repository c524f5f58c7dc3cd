-- Switchboard core schema (SQLite). Keep in step with ../postgres/0001_core.sql: the only intended
-- differences are the id column type and partial-index syntax, nothing else.
-- Conventions (sqlx Any): times are BIGINT epoch-ms, flags are BIGINT 0/1, JSON is TEXT.
CREATE TABLE channels (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    settings        TEXT    NOT NULL,
    default_reply   TEXT,
    created_at      BIGINT  NOT NULL,
    UNIQUE (kind, external_id)
);

CREATE TABLE contacts (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id              BIGINT  NOT NULL REFERENCES channels (id),
    external_id             TEXT    NOT NULL,
    first_name              TEXT,
    last_name               TEXT,
    username                TEXT,
    locale                  TEXT,
    source_ref              TEXT,
    source_kind             TEXT,
    reachable               BIGINT  NOT NULL DEFAULT 1,
    last_window_action_at   BIGINT,
    last_window_action_kind TEXT,
    created_at              BIGINT  NOT NULL,
    updated_at              BIGINT  NOT NULL,
    UNIQUE (channel_id, external_id)
);

CREATE TABLE conversations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id      BIGINT  NOT NULL REFERENCES channels (id),
    contact_id      BIGINT  NOT NULL UNIQUE REFERENCES contacts (id),
    status          TEXT    NOT NULL DEFAULT 'open',
    last_message_at BIGINT,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX conversations_by_channel ON conversations (channel_id, last_message_at);

CREATE TABLE messages (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id     BIGINT  NOT NULL REFERENCES conversations (id),
    channel_id          BIGINT  NOT NULL REFERENCES channels (id),
    contact_id          BIGINT  NOT NULL REFERENCES contacts (id),
    direction           TEXT    NOT NULL,
    author_kind         TEXT    NOT NULL,
    content             TEXT    NOT NULL,
    text                TEXT,
    platform_message_id TEXT,
    status              TEXT    NOT NULL,
    status_rank         BIGINT  NOT NULL,
    error_class         TEXT,
    error_detail        TEXT,
    created_at          BIGINT  NOT NULL,
    sent_at             BIGINT,
    updated_at          BIGINT  NOT NULL
);
CREATE UNIQUE INDEX messages_platform_id ON messages (channel_id, platform_message_id);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE INDEX messages_receipts ON messages (contact_id, direction, status_rank, sent_at);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id  BIGINT  NOT NULL REFERENCES channels (id),
    dedupe_key  TEXT    NOT NULL,
    contact_id  BIGINT  REFERENCES contacts (id),
    kind        TEXT    NOT NULL,
    payload     TEXT    NOT NULL,
    standby     BIGINT  NOT NULL,
    occurred_at BIGINT  NOT NULL,
    received_at BIGINT  NOT NULL,
    UNIQUE (channel_id, dedupe_key)
);

CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id     BIGINT  NOT NULL UNIQUE REFERENCES messages (id),
    channel_id     BIGINT  NOT NULL REFERENCES channels (id),
    lane           TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    attempts       BIGINT  NOT NULL DEFAULT 0,
    run_at         BIGINT  NOT NULL,
    lease_until    BIGINT,
    claimed_by     TEXT,
    messaging_type TEXT,
    created_at     BIGINT  NOT NULL
);
CREATE INDEX outbox_ready ON outbox (run_at, id) WHERE state = 'queued';
CREATE INDEX outbox_in_flight ON outbox (lease_until) WHERE state = 'sending';
