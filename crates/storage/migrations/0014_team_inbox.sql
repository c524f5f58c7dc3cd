-- The team inbox: who has a conversation, snoozes, tags on conversations, private notes, and how
-- far each person has read.
ALTER TABLE conversations ADD COLUMN assignee_id BIGINT REFERENCES users (id);
ALTER TABLE conversations ADD COLUMN snoozed_until BIGINT;
-- The list's order (newest activity first) and its most common filter.
CREATE INDEX conversations_by_activity ON conversations (last_message_at, id);
CREATE INDEX conversations_by_assignee ON conversations (assignee_id, last_message_at, id);

CREATE TABLE conversation_tags (
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    tag             TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (conversation_id, tag)
);
CREATE INDEX conversation_tags_by_tag ON conversation_tags (tag, conversation_id);

-- Private notes: never sent to the customer. `mentions` is a JSON array of user ids.
CREATE TABLE notes (
    id              {{ID}},
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    author_id       BIGINT  REFERENCES users (id),
    author          TEXT    NOT NULL,
    text            TEXT    NOT NULL,
    mentions        TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX notes_by_conversation ON notes (conversation_id, id);

CREATE TABLE conversation_reads (
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    user_id         BIGINT  NOT NULL REFERENCES users (id),
    last_read_id    BIGINT  NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

-- Every conversation has an activity time from now on (the list's cursor orders by it).
UPDATE conversations SET last_message_at = created_at WHERE last_message_at IS NULL;

-- Agent messages to send later: the request as the agent made it, checked again when due.
-- status: scheduled → sending (claimed, leased) → sent | refused (rule, detail) | cancelled.
CREATE TABLE scheduled_messages (
    id              {{ID}},
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    author_id       BIGINT  REFERENCES users (id),
    request         TEXT    NOT NULL,
    send_at         BIGINT  NOT NULL,
    status          TEXT    NOT NULL,
    rule            TEXT,
    detail          TEXT,
    message_ids     TEXT,
    lease_until     BIGINT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX scheduled_messages_due ON scheduled_messages (send_at) WHERE status IN ('scheduled', 'sending');
CREATE INDEX scheduled_messages_by_conversation ON scheduled_messages (conversation_id, id);
