-- Full-text search over message texts and notes (contacts are searched by name directly).
-- The 'simple' configuration: no stemming, so one index serves en, it, id, fi and ar alike.
-- Filled by the indexer (messages, shortly after they are stored) and by notes as written.
CREATE TABLE search_docs (
    kind            TEXT     NOT NULL,
    ref_id          BIGINT   NOT NULL,
    conversation_id BIGINT   NOT NULL,
    channel_id      BIGINT   NOT NULL,
    contact_id      BIGINT   NOT NULL,
    body            TEXT     NOT NULL,
    tsv             TSVECTOR NOT NULL,
    PRIMARY KEY (kind, ref_id)
);
CREATE INDEX search_docs_tsv ON search_docs USING GIN (tsv);
CREATE TABLE search_positions (
    source  TEXT    PRIMARY KEY,
    last_id BIGINT  NOT NULL
);
