-- gearhorn-fanout schema for PostgreSQL, version 1: who subscribes to which
-- topic. The same version as fanout-001.sql (SQLite): migration N of one
-- engine makes the same change as migration N of the other. Applied once by
-- the migration runner in fanout/store_pg.c, which records the version in
-- fanout_schema_version (PostgreSQL has no PRAGMA user_version). A later
-- change goes in fanout-pg-002.sql.
CREATE TABLE subscriber (
	topic      TEXT NOT NULL,
	client_id  TEXT NOT NULL,
	expires_at BIGINT NULL, -- Unix seconds; NULL: never expires
	PRIMARY KEY (topic, client_id)
);
CREATE INDEX subscriber_client_id ON subscriber (client_id);
CREATE INDEX subscriber_expires_at ON subscriber (expires_at) WHERE expires_at IS NOT NULL;
