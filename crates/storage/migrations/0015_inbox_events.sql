-- What people did in the inbox, for the live event stream (message.created comes from the
-- messages table itself, so ingest writes nothing extra). `user_id`: the one person an event is
-- for (a mention), NULL for everyone who can see the conversation.
CREATE TABLE inbox_events (
    id              {{ID}},
    kind            TEXT    NOT NULL,
    conversation_id BIGINT  NOT NULL REFERENCES conversations (id),
    channel_id      BIGINT  NOT NULL REFERENCES channels (id),
    user_id         BIGINT  REFERENCES users (id),
    data            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);
