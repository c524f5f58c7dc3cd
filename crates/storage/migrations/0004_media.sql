-- Media uploaded to Switchboard as bytes, sent to the platforms as bytes (never as a URL the
-- platform must fetch), and the platform's handle for each (channel, media) pair so a file is
-- uploaded once per channel. `{{BLOB}}` is BLOB on SQLite and BYTEA on PostgreSQL.
CREATE TABLE media (
    id          {{ID}},
    kind        TEXT    NOT NULL,
    filename    TEXT    NOT NULL,
    mime_type   TEXT    NOT NULL,
    size_bytes  BIGINT  NOT NULL,
    sha256      TEXT    NOT NULL,
    data        {{BLOB}} NOT NULL,
    created_at  BIGINT  NOT NULL
);

-- Messenger attachment ids expire after 90 days and only the uploading page may use them; a
-- Telegram file_id belongs to its bot. Hence one row per channel, with its age.
CREATE TABLE media_platform_refs (
    media_id     BIGINT  NOT NULL REFERENCES media (id),
    channel_id   BIGINT  NOT NULL REFERENCES channels (id),
    platform_ref TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (media_id, channel_id)
);
