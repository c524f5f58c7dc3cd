-- Full-text search over message texts and notes (contacts are searched by name directly).
-- unicode61 with diacritics removed: "perché" finds "perche"; Arabic and Finnish tokenise as
-- words. Filled by the indexer (messages, shortly after they are stored) and by notes as they
-- are written; `search_refs` keeps each document once.
CREATE VIRTUAL TABLE search_docs USING fts5(
    body, kind UNINDEXED, ref_id UNINDEXED, conversation_id UNINDEXED, channel_id UNINDEXED,
    contact_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE search_refs (
    kind    TEXT    NOT NULL,
    ref_id  BIGINT  NOT NULL,
    PRIMARY KEY (kind, ref_id)
);
CREATE TABLE search_positions (
    source  TEXT    PRIMARY KEY,
    last_id BIGINT  NOT NULL
);
