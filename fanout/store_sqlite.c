/*
 * store_sqlite.c: the subscriber database in an SQLite file, the default
 * engine behind store.h (store.c dispatches here).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "db.h"
#include "store.h"
#include "store_backend.h"
#include "util.h"

typedef struct store_sqlite sq_t;

/* schema/fanout-001.sql, fanout-002.sql, ... compiled in by schema/sql2c
 * (fanout/store-sql.c): store_migrations[i] takes version i to i + 1. */
extern const char *const store_migrations[];
extern const size_t store_nmigrations;

enum {
	ST_SUBSCRIBE,
	ST_UNSUBSCRIBE,
	ST_SUBSCRIBERS,
	ST_TOPICS,
	ST_PURGE,
	ST_EXPIRE,
	ST_SUBSCRIPTIONS,
	ST_CLIENT_TOPICS,
	ST_TOTALS,
	ST_LIVE,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT
};

static const char *const store_sql[ST_COUNT] = {
    [ST_SUBSCRIBE] =
        "INSERT INTO subscriber (topic, client_id, expires_at) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (topic, client_id) DO UPDATE SET expires_at = excluded.expires_at",
    [ST_UNSUBSCRIBE] = "DELETE FROM subscriber WHERE topic = ?1 AND client_id = ?2",
    [ST_SUBSCRIBERS] = "SELECT client_id, expires_at FROM subscriber WHERE topic = ?1"
                       " AND (expires_at IS NULL OR expires_at > ?2) ORDER BY client_id",
    [ST_TOPICS] = "SELECT DISTINCT topic FROM subscriber"
                  " WHERE expires_at IS NULL OR expires_at > ?1 ORDER BY topic",
    [ST_PURGE] = "DELETE FROM subscriber WHERE client_id = ?1",
    [ST_EXPIRE] = "DELETE FROM subscriber WHERE expires_at IS NOT NULL AND expires_at <= ?1",
    [ST_SUBSCRIPTIONS] = "SELECT topic, client_id, expires_at FROM subscriber"
                         " WHERE (expires_at IS NULL OR expires_at > ?1)"
                         " AND (?2 IS NULL OR topic = ?2) ORDER BY topic, client_id",
    [ST_CLIENT_TOPICS] = "SELECT topic FROM subscriber WHERE client_id = ?1 ORDER BY topic",
    [ST_TOTALS] = "SELECT count(DISTINCT topic), count(*) FROM subscriber"
                  " WHERE expires_at IS NULL OR expires_at > ?1",
    [ST_LIVE] = "SELECT 1 FROM subscriber WHERE topic = ?1 AND client_id = ?2"
                " AND (expires_at IS NULL OR expires_at > ?3)",
    /* IMMEDIATE: the write lock first, so that no other connection can add
     * a subscription between our check and our insert. */
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

struct store_sqlite {
	store_t base; /* first: a sq_t * is a struct store_sqlite * */
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	char *path;
	struct stat wal; /* the write-ahead log as opened; st_ino 0: unknown */
	int moved;       /* a change found the file gone from path: refuse changes */
};

int
store_schema_latest(void)
{
	return (int)store_nmigrations;
}

static int
store_fail(sq_t *s, char *err, size_t errlen, const char *what)
{
	return gh_err(err, errlen, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Prepares every statement of store_sql once. Returns 0, or -1 with the
 * reason in err. */
static int
store_prepare(sq_t *s, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &s->st[i], NULL) != SQLITE_OK)
			return store_fail(s, err, errlen, "prepare");
	return 0;
}

/* The path of the write-ahead log, or NULL for a database without one. */
static const char *
store_wal_path(sq_t *s)
{
	sqlite3_filename db = sqlite3_db_filename(s->db, "main");

	return db != NULL && db[0] != '\0' ? sqlite3_filename_wal(db) : NULL;
}

/* Notes which file the write-ahead log is. The connection keeps it open
 * from the first transaction (store_open has run one) until it closes, and
 * no other connection deletes it meanwhile. */
static void
store_note_wal(sq_t *s)
{
	const char *wal = store_wal_path(s);

	if (wal == NULL || stat(wal, &s->wal) != 0)
		memset(&s->wal, 0, sizeof(s->wal));
}

static void sq_destroy(store_t *base);

static store_t *
sq_open_readwrite(const char *path, char *err, size_t errlen)
{
	sq_t *s = gh_calloc(1, sizeof(*s));

	s->base.ops = &store_sqlite_ops;
	s->path = gh_strdup(path);
	/* WAL, synchronous=NORMAL, busy timeout, migrations; NOMUTEX, as a
	 * connection belongs to one thread (see store.h). */
	s->db = db_open(path, store_migrations, store_nmigrations, err, errlen);
	if (s->db == NULL || store_prepare(s, err, errlen) != 0) {
		sq_destroy(&s->base);
		return NULL;
	}
	store_note_wal(s);
	return &s->base;
}

/* Checks that the file holds a schema this program can read. Returns 0, or
 * -1 with the reason in err. */
static int
store_check_schema(sq_t *s, char *err, size_t errlen)
{
	int v = db_version(s->db);

	if (v < 0)
		return gh_err(err, errlen, "%s: %s", s->path, sqlite3_errmsg(s->db));
	if (v == 0)
		return gh_err(err, errlen, "%s: not a fanout database (schema version 0)", s->path);
	if (v > store_schema_latest())
		return gh_err(err, errlen,
		              "%s: schema version %d is newer than this program knows (%d)",
		              s->path, v, store_schema_latest());
	return 0;
}

static store_t *
sq_open_readonly(const char *path, char *err, size_t errlen)
{
	sq_t *s = gh_calloc(1, sizeof(*s));
	int sys;

	s->base.ops = &store_sqlite_ops;
	s->path = gh_strdup(path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		sys = s->db != NULL ? sqlite3_system_errno(s->db) : ENOMEM;
		if (sys == ENOENT)
			gh_err(err, errlen, "%s: no such database", path);
		else
			gh_err(err, errlen, "cannot open %s: %s", path,
			       s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		sq_destroy(&s->base);
		errno = sys != 0 ? sys : EIO;
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_extended_result_codes(s->db, 1);
	if (store_check_schema(s, err, errlen) != 0 || store_prepare(s, err, errlen) != 0) {
		sq_destroy(&s->base);
		errno = EINVAL;
		return NULL;
	}
	store_note_wal(s);
	return &s->base;
}

static store_t *
sq_open(const char *path, int readonly, char *err, size_t errlen)
{
	return readonly ? sq_open_readonly(path, err, errlen)
	                : sq_open_readwrite(path, err, errlen);
}

static void
sq_destroy(store_t *base)
{
	sq_t *s = (sq_t *)base;
	int i;

	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}

static int
sq_schema_version(store_t *base)
{
	sq_t *s = (sq_t *)base;
	return db_version(s->db);
}

/* Runs a statement that returns no rows and resets it. Returns the number
 * of rows changed, or -1. */
static int
store_exec(sq_t *s, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
{
	int rc = sqlite3_step(st), n;

	n = sqlite3_changes(s->db);
	if (rc != SQLITE_DONE) {
		store_fail(s, err, errlen, what);
		n = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return n;
}

/* Returns 1 if the file this connection has open, or its write-ahead log,
 * is no longer the file at its path: deleted, renamed or replaced. SQLite
 * knows it for the database (SQLITE_FCNTL_HAS_MOVED) but not for the log,
 * which it opens without the inode bookkeeping: one stat(2) each. */
static int
store_has_moved(sq_t *s)
{
	const char *path;
	struct stat now;
	int moved = 0;

	if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
		moved = 0;
	if (!moved && s->wal.st_ino != 0 && (path = store_wal_path(s)) != NULL)
		moved = stat(path, &now) != 0 || now.st_ino != s->wal.st_ino ||
		        now.st_dev != s->wal.st_dev;
	return moved;
}

/* The start of every change: STORE_MOVED, with the reason in err, once an
 * earlier one has found the file gone from its path, else 0. */
static int
store_changes_refused(sq_t *s, char *err, size_t errlen)
{
	if (!s->moved)
		return 0;
	gh_err(err, errlen,
	       "%s: the database file was deleted or replaced after it was opened; changes are "
	       "refused until it is opened anew",
	       s->path);
	return STORE_MOVED;
}

/* The end of every change: rc (the change's result) unless it was written
 * into a file that is no longer at its path, where no later open finds it:
 * then STORE_MOVED with the reason in err, and every later change is
 * refused. */
static int
store_committed(sq_t *s, int rc, char *err, size_t errlen)
{
	if (rc < 0 || !store_has_moved(s))
		return rc;
	s->moved = 1;
	gh_err(err, errlen,
	       "%s: the database file was deleted or replaced after it was opened; this change "
	       "is lost, and changes are refused until it is opened anew",
	       s->path);
	return STORE_MOVED;
}

/* Whether topic/client is a live subscription (store_live_fn): one primary
 * key lookup. */
static int
sq_live(store_t *base, const char *topic, const char *client, int64_t now, char *err, size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_LIVE];
	int rc;

	sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		return store_fail(s, err, errlen, "check the function name");
	return 0;
}

static int
sq_subscribe(store_t *base, const char *topic, const char *client, int64_t ttl_s, int64_t now,
             char *err, size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_SUBSCRIBE];
	int rc;

	if (store_changes_refused(s, err, errlen) < 0)
		return STORE_MOVED;
	if (store_exec(s, s->st[ST_BEGIN], "begin", err, errlen) < 0)
		return -1;
	rc = store_taken(base, topic, client, now, sq_live, err, errlen);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
		if (ttl_s > 0)
			sqlite3_bind_int64(st, 3, now + ttl_s);
		else
			sqlite3_bind_null(st, 3);
		rc = store_exec(s, st, "subscribe", err, errlen) < 0 ? -1 : 0;
	}
	if (rc == 0)
		rc = store_exec(s, s->st[ST_COMMIT], "commit", err, errlen) < 0 ? -1 : 0;
	if (rc != 0 && !sqlite3_get_autocommit(s->db))
		store_exec(s, s->st[ST_ROLLBACK], "rollback", NULL, 0);
	return store_committed(s, rc, err, errlen);
}

static int
sq_unsubscribe(store_t *base, const char *topic, const char *client, char *err, size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_UNSUBSCRIBE];
	int n;

	if (store_changes_refused(s, err, errlen) < 0)
		return STORE_MOVED;
	sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
	n = store_committed(s, store_exec(s, st, "unsubscribe", err, errlen), err, errlen);
	return n < 0 ? n : n > 0;
}

static int
sq_purge_client(store_t *base, const char *client, char *err, size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_PURGE];

	if (store_changes_refused(s, err, errlen) < 0)
		return STORE_MOVED;
	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	return store_committed(s, store_exec(s, st, "purge client", err, errlen), err, errlen);
}

static int
sq_expire(store_t *base, int64_t now, char *err, size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_EXPIRE];

	if (store_changes_refused(s, err, errlen) < 0)
		return STORE_MOVED;
	sqlite3_bind_int64(st, 1, now);
	return store_committed(s, store_exec(s, st, "expire", err, errlen), err, errlen);
}

/* Collects column 0 of every row of st into out (and the earliest non-NULL
 * column 1 if with_expiry), then resets st. */
static int
store_collect(sq_t *s, sqlite3_stmt *st, int with_expiry, const char *what, store_list_t *out,
              char *err, size_t errlen)
{
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *text = sqlite3_column_text(st, 0);
		int len = sqlite3_column_bytes(st, 0);

		if (text == NULL)
			continue;
		if (out->n == cap) {
			cap = cap ? cap * 2 : 8;
			out->items = gh_realloc(out->items, cap * sizeof(*out->items));
		}
		out->items[out->n++] = gh_strndup((const char *)text, (size_t)len);
		if (with_expiry && sqlite3_column_type(st, 1) != SQLITE_NULL) {
			int64_t at = sqlite3_column_int64(st, 1);

			if (out->earliest_expiry == 0 || at < out->earliest_expiry)
				out->earliest_expiry = at;
		}
	}
	if (rc != SQLITE_DONE) {
		store_fail(s, err, errlen, what);
		store_list_free(out);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
sq_subscribers(store_t *base, const char *topic, int64_t now, store_list_t *out, char *err,
               size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_SUBSCRIBERS];

	sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	return store_collect(s, st, 1, "list subscribers", out, err, errlen);
}

static int
sq_topics(store_t *base, int64_t now, store_list_t *out, char *err, size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_TOPICS];

	sqlite3_bind_int64(st, 1, now);
	return store_collect(s, st, 0, "list topics", out, err, errlen);
}

static int
sq_client_topics(store_t *base, const char *client, store_list_t *out, char *err, size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_CLIENT_TOPICS];

	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	return store_collect(s, st, 0, "list topics of a client", out, err, errlen);
}

/* Column i of the row st is on, as a string; "" for NULL. Caller owns it. */
static char *
store_column_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *text = sqlite3_column_text(st, i);

	if (text == NULL)
		return gh_strdup("");
	return gh_strndup((const char *)text, (size_t)sqlite3_column_bytes(st, i));
}

/* Appends the row of ST_SUBSCRIPTIONS that st is on to out. */
static void
store_subs_append(store_subs_t *out, sqlite3_stmt *st, size_t *cap)
{
	store_sub_t *sub;

	if (out->n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		out->items = gh_realloc(out->items, *cap * sizeof(*out->items));
	}
	sub = &out->items[out->n++];
	sub->topic = store_column_dup(st, 0);
	sub->client = store_column_dup(st, 1);
	sub->expires_at =
	    sqlite3_column_type(st, 2) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 2);
}

static int
sq_subscriptions(store_t *base, const char *topic, int64_t now, store_subs_t *out, char *err,
                 size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_SUBSCRIPTIONS];
	size_t cap = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	sqlite3_bind_int64(st, 1, now);
	if (topic != NULL)
		sqlite3_bind_text(st, 2, topic, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		store_subs_append(out, st, &cap);
	if (rc != SQLITE_DONE) {
		store_fail(s, err, errlen, "list subscriptions");
		store_subs_free(out);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
sq_count(store_t *base, int64_t now, int64_t *topics, int64_t *subscriptions, char *err,
         size_t errlen)
{
	sq_t *s = (sq_t *)base;
	sqlite3_stmt *st = s->st[ST_TOTALS];
	int rc;

	*topics = *subscriptions = 0;
	sqlite3_bind_int64(st, 1, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*topics = sqlite3_column_int64(st, 0);
		*subscriptions = sqlite3_column_int64(st, 1);
	} else {
		store_fail(s, err, errlen, "count subscriptions");
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

const store_ops_t store_sqlite_ops = {
    .open = sq_open,
    .destroy = sq_destroy,
    .schema_version = sq_schema_version,
    .subscribe = sq_subscribe,
    .unsubscribe = sq_unsubscribe,
    .subscribers = sq_subscribers,
    .topics = sq_topics,
    .subscriptions = sq_subscriptions,
    .client_topics = sq_client_topics,
    .count = sq_count,
    .purge_client = sq_purge_client,
    .expire = sq_expire,
};
