/*
 * store.c: the subscriber database (see store.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "db.h"
#include "store.h"
#include "util.h"

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
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	char *path;
};

int
store_schema_latest(void)
{
	return (int)store_nmigrations;
}

static int
store_fail(store_t *s, char *err, size_t errlen, const char *what)
{
	return gh_err(err, errlen, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Prepares every statement of store_sql once. Returns 0, or -1 with the
 * reason in err. */
static int
store_prepare(store_t *s, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < ST_COUNT; i++)
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
		                       &s->st[i], NULL) != SQLITE_OK)
			return store_fail(s, err, errlen, "prepare");
	return 0;
}

store_t *
store_open(const char *path, char *err, size_t errlen)
{
	store_t *s = gh_calloc(1, sizeof(*s));

	s->path = gh_strdup(path);
	/* WAL, synchronous=NORMAL, busy timeout, migrations; NOMUTEX, as a
	 * connection belongs to one thread (see store.h). */
	s->db = db_open(path, store_migrations, store_nmigrations, err, errlen);
	if (s->db == NULL || store_prepare(s, err, errlen) != 0)
		store_destroy(&s);
	return s;
}

/* Checks that the file holds a schema this program can read. Returns 0, or
 * -1 with the reason in err. */
static int
store_check_schema(store_t *s, char *err, size_t errlen)
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

store_t *
store_open_readonly(const char *path, char *err, size_t errlen)
{
	store_t *s = gh_calloc(1, sizeof(*s));
	int sys;

	s->path = gh_strdup(path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		sys = s->db != NULL ? sqlite3_system_errno(s->db) : ENOMEM;
		if (sys == ENOENT)
			gh_err(err, errlen, "%s: no such database", path);
		else
			gh_err(err, errlen, "cannot open %s: %s", path,
			       s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		store_destroy(&s);
		errno = sys != 0 ? sys : EIO;
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_extended_result_codes(s->db, 1);
	if (store_check_schema(s, err, errlen) != 0 || store_prepare(s, err, errlen) != 0) {
		store_destroy(&s);
		errno = EINVAL;
	}
	return s;
}

void
store_destroy(store_t **self_p)
{
	store_t *s;
	int i;

	if (self_p == NULL || *self_p == NULL)
		return;
	s = *self_p;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
	*self_p = NULL;
}

int
store_schema_version(store_t *s)
{
	return db_version(s->db);
}

/* Runs a statement that returns no rows and resets it. Returns the number
 * of rows changed, or -1. */
static int
store_exec(store_t *s, sqlite3_stmt *st, const char *what, char *err, size_t errlen)
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

int
store_subscribe(store_t *s, const char *topic, const char *client, int64_t ttl_s, int64_t now,
                char *err, size_t errlen)
{
	sqlite3_stmt *st = s->st[ST_SUBSCRIBE];

	sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
	if (ttl_s > 0)
		sqlite3_bind_int64(st, 3, now + ttl_s);
	else
		sqlite3_bind_null(st, 3);
	return store_exec(s, st, "subscribe", err, errlen) < 0 ? -1 : 0;
}

int
store_unsubscribe(store_t *s, const char *topic, const char *client, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->st[ST_UNSUBSCRIBE];
	int n;

	sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, client, -1, SQLITE_STATIC);
	n = store_exec(s, st, "unsubscribe", err, errlen);
	return n < 0 ? -1 : n > 0;
}

int
store_purge_client(store_t *s, const char *client, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->st[ST_PURGE];

	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	return store_exec(s, st, "purge client", err, errlen);
}

int
store_expire(store_t *s, int64_t now, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->st[ST_EXPIRE];

	sqlite3_bind_int64(st, 1, now);
	return store_exec(s, st, "expire", err, errlen);
}

void
store_list_free(store_list_t *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/* Collects column 0 of every row of st into out (and the earliest non-NULL
 * column 1 if with_expiry), then resets st. */
static int
store_collect(store_t *s, sqlite3_stmt *st, int with_expiry, const char *what, store_list_t *out,
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

int
store_subscribers(store_t *s, const char *topic, int64_t now, store_list_t *out, char *err,
                  size_t errlen)
{
	sqlite3_stmt *st = s->st[ST_SUBSCRIBERS];

	sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	return store_collect(s, st, 1, "list subscribers", out, err, errlen);
}

int
store_topics(store_t *s, int64_t now, store_list_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->st[ST_TOPICS];

	sqlite3_bind_int64(st, 1, now);
	return store_collect(s, st, 0, "list topics", out, err, errlen);
}

int
store_client_topics(store_t *s, const char *client, store_list_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->st[ST_CLIENT_TOPICS];

	sqlite3_bind_text(st, 1, client, -1, SQLITE_STATIC);
	return store_collect(s, st, 0, "list topics of a client", out, err, errlen);
}

void
store_subs_free(store_subs_t *subs)
{
	size_t i;

	if (subs == NULL)
		return;
	for (i = 0; i < subs->n; i++) {
		free(subs->items[i].topic);
		free(subs->items[i].client);
	}
	free(subs->items);
	memset(subs, 0, sizeof(*subs));
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

int
store_subscriptions(store_t *s, const char *topic, int64_t now, store_subs_t *out, char *err,
                    size_t errlen)
{
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

int
store_count(store_t *s, int64_t now, int64_t *topics, int64_t *subscriptions, char *err,
            size_t errlen)
{
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
