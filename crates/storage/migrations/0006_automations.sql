-- Automations react to stored events (PRODUCT.md): an inbound event that a person caused is
-- stored with automation = 'pending'; a worker claims it (claimed, with a lease), decides, and in
-- one transaction queues the answer, applies the effects and marks it 'done'. NULL: nothing to do.
ALTER TABLE events ADD COLUMN automation TEXT;
ALTER TABLE events ADD COLUMN automation_lease_until BIGINT;
ALTER TABLE events ADD COLUMN automation_claimed_by TEXT;
CREATE INDEX events_automation_open ON events (id) WHERE automation IN ('pending', 'claimed');
CREATE INDEX events_by_contact ON events (contact_id, id);

-- A channel's automations: one JSON document (switchboard-automation's ChannelAutomations), and
-- the secret that signs its outgoing webhook calls (never returned by the API after creation).
CREATE TABLE automations (
    channel_id  BIGINT  PRIMARY KEY REFERENCES channels (id),
    config      TEXT    NOT NULL,
    secret      TEXT    NOT NULL,
    version     BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

-- What automations remember per conversation (JSON), who has it, and since when it waits for a
-- human (status 'waiting').
ALTER TABLE conversations ADD COLUMN automation_state TEXT NOT NULL DEFAULT '{}';
ALTER TABLE conversations ADD COLUMN waiting_since BIGINT;
ALTER TABLE conversations ADD COLUMN assignee TEXT;

CREATE TABLE contact_tags (
    contact_id  BIGINT  NOT NULL REFERENCES contacts (id),
    tag         TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (contact_id, tag)
);
