-- Switchboard core schema, one file for SQLite and PostgreSQL. `{{ID}}` is the only dialect
-- difference (an auto-incrementing 64-bit primary key); Backend::migrations fills it in.
-- reachable: NULL until the platform tells us either way (treated as reachable).
-- Conventions (sqlx Any): times are BIGINT epoch-ms, flags are BIGINT 0/1, JSON is TEXT.
CREATE TABLE channels (
    id              {{ID}},
    kind            TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    external_id     TEXT    NOT NULL,
    settings        TEXT    NOT NULL,
    default_reply   TEXT,
    created_at      BIGINT  NOT NULL,
    UNIQUE (kind, external_id)
);

CREATE TABLE contacts (
    id                      {{ID}},
    channel_id              BIGINT  NOT NULL REFERENCES channels (id),
    external_id             TEXT    NOT NULL,
    first_name              TEXT,
    last_name               TEXT,
    username                TEXT,
    locale                  TEXT,
    source_ref              TEXT,
    source_kind             TEXT,
    reachable               BIGINT,
    last_window_action_at   BIGINT,
    last_window_action_kind TEXT,
    created_at              BIGINT  NOT NULL,
    updated_at              BIGINT  NOT NULL,
    UNIQUE (channel_id, external_id)
);

CREATE TABLE conversations (
    id              {{ID}},
    channel_id      BIGINT  NOT NULL REFERENCES channels (id),
    contact_id      BIGINT  NOT NULL UNIQUE REFERENCES contacts (id),
    status          TEXT    NOT NULL DEFAULT 'open',
    last_message_at BIGINT,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX conversations_by_channel ON conversations (channel_id, last_message_at);

CREATE TABLE messages (
    id                  {{ID}},
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
    updated_at          BIGINT  NOT NULL,
    -- The inbound event this message answers, if any.
    origin_event_id     BIGINT,
    -- The outbox lives on the message row: a message we send is a row before it is a request.
    -- outbox_state is NULL for messages that are not ours to send, else queued | sending | done.
    -- Who the message goes to (the contact's platform id), kept on the row so a claim needs no join.
    recipient           TEXT,
    lane                TEXT,
    outbox_state        TEXT,
    attempts            BIGINT  NOT NULL DEFAULT 0,
    run_at              BIGINT,
    lease_until         BIGINT,
    claimed_by          TEXT,
    messaging_type      TEXT
);
CREATE UNIQUE INDEX messages_platform_id ON messages (channel_id, platform_message_id);
CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
CREATE INDEX messages_receipts ON messages (contact_id, direction, status_rank, sent_at);

CREATE TABLE events (
    id          {{ID}},
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

CREATE INDEX messages_outbox_ready ON messages (lane, run_at, id) WHERE outbox_state = 'queued';
CREATE INDEX messages_outbox_in_flight ON messages (lease_until) WHERE outbox_state = 'sending';
