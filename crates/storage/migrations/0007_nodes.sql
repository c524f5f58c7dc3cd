-- Nodes sharing this database, with their last heartbeat: a channel's rate limit is divided among
-- the live ones, so several nodes together never send faster than the channel allows.
CREATE TABLE nodes (
    node_id    TEXT    PRIMARY KEY,
    last_seen  BIGINT  NOT NULL
);
