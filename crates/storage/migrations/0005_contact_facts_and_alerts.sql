-- Facts the delivery engine needs about people and channels.
-- subscribed: 0 after the person unsubscribed (no marketing until they resubscribe).
-- attributes: JSON object of custom attributes (`{{attr.<key>}}`), captured by flows or set by API.
-- profile_fetched_at: when the platform's profile of the person was last asked for (once per
-- contact; Messenger names come from the User Profile API).
-- channels.attribute_keys: JSON array of the custom attribute keys templates may use.
-- channels.alert: JSON of a problem someone must fix (credentials rejected), NULL when healthy.
ALTER TABLE contacts ADD COLUMN subscribed BIGINT NOT NULL DEFAULT 1;
ALTER TABLE contacts ADD COLUMN subscription_changed_at BIGINT;
ALTER TABLE contacts ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
ALTER TABLE contacts ADD COLUMN profile_fetched_at BIGINT;
ALTER TABLE channels ADD COLUMN alert TEXT;
ALTER TABLE channels ADD COLUMN attribute_keys TEXT NOT NULL DEFAULT '[]';
