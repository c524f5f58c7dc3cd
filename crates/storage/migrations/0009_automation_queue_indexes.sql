-- The automation queue's claim and recovery, indexed the way SQLite can use them: its planner uses
-- a partial index only when the query repeats the index's WHERE term, so `automation = 'pending'`
-- could not use `events_automation_open` (WHERE automation IN (...)) and every claim scanned the
-- whole events table (measured: the largest cost of the ingest-and-answer benchmark).
CREATE INDEX events_automation_pending ON events (id) WHERE automation = 'pending';
CREATE INDEX events_automation_claimed ON events (automation_lease_until) WHERE automation = 'claimed';
-- "Has this person an earlier event still open?" without visiting their decided ones.
CREATE INDEX events_open_by_contact ON events (contact_id, id) WHERE automation IN ('pending', 'claimed');
