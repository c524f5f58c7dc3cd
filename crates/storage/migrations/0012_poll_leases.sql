-- Which process long-polls a Telegram bot: getUpdates allows one poller per bot, so nodes sharing
-- this database take a short lease, renewed by its holder and taken over once it expires.
CREATE TABLE poll_leases (
    channel_id   BIGINT  PRIMARY KEY,
    holder       TEXT    NOT NULL,
    lease_until  BIGINT  NOT NULL
);
