-- Platform message ids are unique per conversation, not per channel: Telegram numbers messages per
-- chat, so two people's messages on one bot can share a message_id. (Messenger mids are globally
-- unique, so scoping by contact costs it nothing.)
DROP INDEX messages_platform_id;
CREATE UNIQUE INDEX messages_platform_id ON messages (channel_id, contact_id, platform_message_id);
