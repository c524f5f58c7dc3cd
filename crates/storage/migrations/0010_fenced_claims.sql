-- Fenced outbox claims: every claim gets its own unguessable token, and every write about a
-- claimed row (the call-started mark, lease renewal, results, recovery) is conditional on it, so
-- a worker whose claim was lost cannot change a row someone else now holds.
ALTER TABLE messages ADD COLUMN claim_token TEXT;
CREATE INDEX messages_outbox_claim ON messages (claim_token) WHERE outbox_state = 'sending';
-- Per-person order: a row is claimed only when no earlier unfinished row of the same person and
-- lane is left outside the claim (one waiting for a retry holds back the ones behind it).
CREATE INDEX messages_outbox_open_by_contact ON messages (contact_id, lane, id)
    WHERE outbox_state IN ('queued', 'sending');
-- The latest delivery and read watermarks a person's platform reported, so a receipt that arrives
-- before the send's result is recorded still moves the message forward when it is.
ALTER TABLE contacts ADD COLUMN delivered_watermark BIGINT;
ALTER TABLE contacts ADD COLUMN read_watermark BIGINT;
