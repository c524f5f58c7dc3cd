-- When the platform call of a claimed outbox row began (epoch ms). The claim sets it to NULL; the
-- dispatcher sets it, and waits for the commit, immediately before it makes the call. So a row still
-- `sending` with call_started_at NULL provably never reached the platform, and lease recovery can put
-- it back in the queue; a row with it set may have been sent, and recovery records it `unknown`.
-- Only meaningful while outbox_state = 'sending'; once a result is recorded it is history.
ALTER TABLE messages ADD COLUMN call_started_at BIGINT;
