/*
 * store.h: the subscriber database of gearhorn-fanout, in SQLite (the
 * default, for one host) or in PostgreSQL (shared by workers on several
 * hosts).
 *
 * The database is named by a path, an SQLite file, or by a PostgreSQL
 * connection URI (postgresql://... or postgres://...); store.c hands each
 * call to the engine (store_sqlite.c, store_pg.c), and every call below
 * means the same on both. Each engine has its own numbered migrations,
 * schema/fanout-NNN.sql and schema/fanout-pg-NNN.sql, in step: version N
 * is the same schema on both.
 *
 * A subscription is the pair (topic, client_id) with an optional expiry
 * time. The schema comes from schema/fanout-NNN.sql, compiled in at build
 * time and applied in order by db_open (src/lib/db.h), which keeps the
 * version in PRAGMA user_version. The database runs in WAL mode with synchronous=NORMAL
 * and a busy timeout of 5 seconds, so several processes may share the file.
 * Every statement is prepared once in store_open and reused; names are only
 * ever bound as parameters, never spliced into SQL. (PostgreSQL: see
 * store_pg.c; the version is kept in the table fanout_schema_version.)
 *
 * A store_t is one connection: use it from one thread at a time
 * (each worker thread opens its own). A connection from store_open_readonly
 * (gearhorn(1) reads the worker's database so) never writes, creates or
 * migrates it: every call that would change it fails.
 *
 * Times are Unix seconds supplied by the caller (now), so tests control
 * the clock. A subscription with expires_at <= now is expired: it is not
 * returned, and store_expire deletes it.
 *
 * The rule every store keeps (this one and any other backend): a
 * subscription's gearman function is "<topic>_<client_id>", and no two live
 * subscriptions may share one, or a fanout to one topic would reach the
 * other's subscriber ("a_b" + "c" and "a" + "b_c" both name a_b_c).
 * store_subscribe refuses the second (STORE_TAKEN), atomically with respect
 * to every other connection to the same database (SQLite: BEGIN IMMEDIATE;
 * PostgreSQL: a transaction holding an advisory lock).
 *
 * SQLite only (a PostgreSQL database has no file to lose): a change is
 * reported done only once it is where the next store_open of
 * the path will find it. After each commit the store checks that the file
 * it has open (and its write-ahead log) is still the one at the path
 * (SQLITE_FCNTL_HAS_MOVED): if it was deleted, renamed or replaced, the
 * change went into a file that nobody will open again, and the call returns
 * STORE_MOVED. So does every later change, without writing: only a new
 * store_open of the path opens what is there now. Reads go on from the file
 * that is open.
 */
#ifndef GEARHORN_FANOUT_STORE_H
#define GEARHORN_FANOUT_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct store store_t;

/* What a store call returns besides 0 (done) and -1 (a database error). */
enum {
	STORE_TAKEN = -2, /* store_subscribe: the function name is another subscription's */
	STORE_MOVED = -3  /* the file is no longer at its path: changes are lost or refused */
};

/* A list of names from the store: n NUL-terminated strings. */
typedef struct {
	char **items;
	size_t n;
	/* For store_subscribers: the earliest expires_at among the items, or 0
	 * if none of them expires. */
	int64_t earliest_expiry;
} store_list_t;

/* One subscription, as store_subscriptions returns it. */
typedef struct {
	char *topic;
	char *client;
	int64_t expires_at; /* Unix seconds; 0: never expires */
} store_sub_t;

/* A list of subscriptions: n of them in items. */
typedef struct {
	store_sub_t *items;
	size_t n;
} store_subs_t;

/* Opens (creating if needed) the database at path and brings its schema up
 * to date. path (a file, or a PostgreSQL URI whose database must exist) is
 * borrowed. Caller owns the result (store_destroy); NULL
 * on error with the reason in err, e.g. "cannot open PATH: unable to open
 * database file", "cannot connect to the PostgreSQL database: ..." (never
 * the URI, which may hold a password) or "PATH: schema version 7 is newer
 * than this program knows (1)". */
store_t *store_open(const char *path, char *err, size_t errlen);

/* Opens the existing database at path read-only: no file is created, no
 * schema migrated, and every call that would write fails (-1, "attempt to
 * write a readonly database"). path is borrowed. Caller owns the result
 * (store_destroy). NULL on error with the reason in err and its class in
 * errno: ENOENT, "PATH: no such database"; EINVAL, a file that is not a
 * fanout database this program can read ("PATH: file is not a database",
 * "PATH: not a fanout database (schema version 0)", "PATH: schema version 7
 * is newer than this program knows (1)"); else the system's reason why the
 * file cannot be opened, "cannot open PATH: ..." (PostgreSQL: ECONNREFUSED,
 * "cannot connect to the PostgreSQL database: ..."; EINVAL as above, with
 * every transaction read-only). */
store_t *store_open_readonly(const char *path, char *err, size_t errlen);

/* Finalizes the statements, closes the connection, frees *self_p and sets
 * it to NULL. Accepts NULL and a pointer to NULL. */
void store_destroy(store_t **self_p);

/* Returns the schema version of the open database (PRAGMA user_version, or
 * the highest row of fanout_schema_version), or -1 on error. */
int store_schema_version(store_t *s);

/* Returns the number of schema versions this program knows. */
int store_schema_latest(void);

/* Adds topic/client, or refreshes it if it exists (not an error). ttl_s > 0:
 * expires at now + ttl_s; ttl_s <= 0: never expires. Both names borrowed.
 * Returns 0; STORE_TAKEN, changing nothing, if another live subscription
 * has the same function name "<topic>_<client>", with err naming it:
 * "topic_client_id a_b_c already names the function of client_id "c" on
 * topic "a_b""; STORE_MOVED (see above), or -1, with the reason in err. */
int store_subscribe(store_t *s, const char *topic, const char *client, int64_t ttl_s, int64_t now,
                    char *err, size_t errlen);

/* Removes topic/client. Returns 1 if it was subscribed, 0 if not (not an
 * error), STORE_MOVED (see above) or -1 with the reason in err. */
int store_unsubscribe(store_t *s, const char *topic, const char *client, char *err, size_t errlen);

/* Fills *out with the live subscribers of topic (sorted by client id) and
 * their earliest expiry. Caller owns out's contents (store_list_free).
 * Returns 0, or -1 with the reason in err (out is then empty). */
int store_subscribers(store_t *s, const char *topic, int64_t now, store_list_t *out, char *err,
                      size_t errlen);

/* Fills *out with the distinct topics that have a live subscriber, sorted.
 * Caller owns out's contents (store_list_free). Returns 0 or -1. */
int store_topics(store_t *s, int64_t now, store_list_t *out, char *err, size_t errlen);

/* Fills *out with the live subscriptions, all of them (topic NULL) or those
 * of topic (borrowed), sorted by topic and then client id. Caller owns
 * out's contents (store_subs_free). Returns 0, or -1 with the reason in err
 * (out is then empty). */
int store_subscriptions(store_t *s, const char *topic, int64_t now, store_subs_t *out, char *err,
                        size_t errlen);

/* Fills *out with every topic that client (borrowed) is subscribed to,
 * sorted, expired subscriptions included: they stay in the file until
 * store_expire deletes them. Caller owns out's contents (store_list_free).
 * Returns 0, or -1 with the reason in err (out is then empty). */
int store_client_topics(store_t *s, const char *client, store_list_t *out, char *err,
                        size_t errlen);

/* Sets *topics to the number of distinct topics with a live subscriber and
 * *subscriptions to the number of live subscriptions. Returns 0, or -1 with
 * the reason in err (both then 0). */
int store_count(store_t *s, int64_t now, int64_t *topics, int64_t *subscriptions, char *err,
                size_t errlen);

/* Removes every subscription of client. Returns how many, STORE_MOVED (see
 * above) or -1. */
int store_purge_client(store_t *s, const char *client, char *err, size_t errlen);

/* Deletes every subscription with expires_at <= now. Returns how many,
 * STORE_MOVED (see above) or -1. */
int store_expire(store_t *s, int64_t now, char *err, size_t errlen);

/* Frees the contents of list and empties it. Accepts NULL. */
void store_list_free(store_list_t *list);

/* Frees the contents of subs and empties it. Accepts NULL. */
void store_subs_free(store_subs_t *subs);

#endif
