-- Idempotency keys of the send API: the first successful response per (scope, key), written in
-- the transaction that queued its messages, so a key never exists without its messages or the
-- other way round. Rows older than 24 h are ignored and deleted opportunistically.
CREATE TABLE idempotency_keys (
    scope         TEXT    NOT NULL,
    idem_key      TEXT    NOT NULL,
    request_hash  TEXT    NOT NULL,
    status        INTEGER NOT NULL,
    response      TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
