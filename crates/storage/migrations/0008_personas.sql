-- A bot persona's platform id per channel (Messenger Personas API): created once, on the first
-- message the persona sends, and reused. Keyed by what the persona looks like, so changing a
-- flow's persona name or picture creates a new one instead of reusing a stale face.
CREATE TABLE channel_personas (
    channel_id   BIGINT  NOT NULL REFERENCES channels (id),
    name         TEXT    NOT NULL,
    avatar_url   TEXT    NOT NULL,
    platform_id  TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (channel_id, name, avatar_url)
);
