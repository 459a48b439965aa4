-- gearhorn-fanout schema, version 1: who subscribes to which topic.
-- Applied once by the migration runner in fanout/store.c, which then sets
-- PRAGMA user_version = 1. A later change goes in fanout-002.sql.
CREATE TABLE subscriber (
	topic      TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	expires_at INTEGER NULL, -- Unix seconds; NULL: never expires
	PRIMARY KEY (topic, client_id)
);
CREATE INDEX subscriber_client_id ON subscriber (client_id);
CREATE INDEX subscriber_expires_at ON subscriber (expires_at) WHERE expires_at IS NOT NULL;
