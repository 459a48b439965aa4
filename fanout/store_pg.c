/*
 * store_pg.c: the subscriber database in PostgreSQL (see store.h), for
 * fanout workers on several hosts that must see the same subscribers.
 *
 * The name store_open is given is a libpq connection URI (postgresql://...
 * or postgres://...). The schema comes from schema/fanout-pg-NNN.sql,
 * compiled in (fanout/store-pg-sql.c) and applied in order under an
 * advisory lock, so that workers starting together migrate once; the
 * version is the highest row of fanout_schema_version. Every statement is
 * prepared once per connection and run with bound parameters only.
 *
 * The function-name rule of store.h: store_subscribe takes a transaction-
 * level advisory lock (STORE_PG_LOCK) before its check and its insert, so
 * no other connection can add a subscription in between, as BEGIN
 * IMMEDIATE does for SQLite. A read-only connection sets
 * default_transaction_read_only, so PostgreSQL itself refuses any write.
 * The database has no file, so a change never returns STORE_MOVED.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store.h"
#include "store_backend.h"
#include "util.h"

/* schema/fanout-pg-001.sql, ... compiled in by schema/sql2c. */
extern const char *const store_pg_migrations[];
extern const size_t store_pg_nmigrations;

/* The advisory lock key of the subscriber table: "gh-fanout" in ASCII. */
#define STORE_PG_LOCK "7480013590432248436"

typedef struct store_pg {
	store_t base; /* first: a store_t * is a struct store_pg * */
	PGconn *conn;
	int version;
} pg_t;

enum {
	PS_SUBSCRIBE,
	PS_UNSUBSCRIBE,
	PS_SUBSCRIBERS,
	PS_TOPICS,
	PS_PURGE,
	PS_EXPIRE,
	PS_SUBSCRIPTIONS,
	PS_CLIENT_TOPICS,
	PS_TOTALS,
	PS_LIVE,
	PS_LOCK,
	PS_COUNT
};

static const char *const pg_sql[PS_COUNT] = {
    [PS_SUBSCRIBE] =
        "INSERT INTO subscriber (topic, client_id, expires_at) VALUES ($1, $2, $3::bigint)"
        " ON CONFLICT (topic, client_id) DO UPDATE SET expires_at = excluded.expires_at",
    [PS_UNSUBSCRIBE] = "DELETE FROM subscriber WHERE topic = $1 AND client_id = $2",
    [PS_SUBSCRIBERS] = "SELECT client_id, expires_at FROM subscriber WHERE topic = $1"
                       " AND (expires_at IS NULL OR expires_at > $2::bigint)"
                       " ORDER BY client_id COLLATE \"C\"",
    [PS_TOPICS] = "SELECT DISTINCT topic COLLATE \"C\" FROM subscriber"
                  " WHERE expires_at IS NULL OR expires_at > $1::bigint"
                  " ORDER BY topic COLLATE \"C\"",
    [PS_PURGE] = "DELETE FROM subscriber WHERE client_id = $1",
    [PS_EXPIRE] =
        "DELETE FROM subscriber WHERE expires_at IS NOT NULL AND expires_at <= $1::bigint",
    [PS_SUBSCRIPTIONS] = "SELECT topic, client_id, expires_at FROM subscriber"
                         " WHERE (expires_at IS NULL OR expires_at > $1::bigint)"
                         " AND ($2::text IS NULL OR topic = $2::text)"
                         " ORDER BY topic COLLATE \"C\", client_id COLLATE \"C\"",
    [PS_CLIENT_TOPICS] =
        "SELECT topic FROM subscriber WHERE client_id = $1 ORDER BY topic COLLATE \"C\"",
    [PS_TOTALS] = "SELECT count(DISTINCT topic), count(*) FROM subscriber"
                  " WHERE expires_at IS NULL OR expires_at > $1::bigint",
    [PS_LIVE] = "SELECT 1 FROM subscriber WHERE topic = $1 AND client_id = $2"
                " AND (expires_at IS NULL OR expires_at > $3::bigint)",
    [PS_LOCK] = "SELECT pg_advisory_xact_lock(" STORE_PG_LOCK ")",
};

/* The length of libpq's last message on conn without its trailing newline;
 * *msg is set to the message (borrowed from conn). */
static int
pg_message(const PGconn *conn, const char **msg)
{
	int len;

	*msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	len = (int)strlen(*msg);
	while (len > 0 && ((*msg)[len - 1] == '\n' || (*msg)[len - 1] == ' '))
		len--;
	return len;
}

/* libpq's message, with what failed, into err. Returns -1. */
static int
pg_fail(pg_t *s, char *err, size_t errlen, const char *what)
{
	const char *msg;
	int len = pg_message(s->conn, &msg);

	return gh_err(err, errlen, "PostgreSQL database %s: %s: %.*s", PQdb(s->conn), what, len,
	              msg);
}

/* Runs a prepared statement with n text parameters (NULL for SQL NULL).
 * Caller owns the result (PQclear); NULL with the reason in err when it did
 * not return expect. */
static PGresult *
pg_run(pg_t *s, int st, int n, const char *const *params, ExecStatusType expect, const char *what,
       char *err, size_t errlen)
{
	char name[16];
	PGresult *res;

	snprintf(name, sizeof(name), "s%d", st);
	res = PQexecPrepared(s->conn, name, n, params, NULL, NULL, 0);
	if (PQresultStatus(res) == expect)
		return res;
	pg_fail(s, err, errlen, what);
	PQclear(res);
	return NULL;
}

/* Runs SQL text without parameters (transaction control, migrations).
 * Returns 0, or -1 with the reason in err. */
static int
pg_exec(pg_t *s, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType rc = PQresultStatus(res);

	PQclear(res);
	if (rc == PGRES_COMMAND_OK || rc == PGRES_TUPLES_OK)
		return 0;
	return pg_fail(s, err, errlen, what);
}

/* The number of rows a command changed. */
static int
pg_changed(PGresult *res)
{
	return atoi(PQcmdTuples(res));
}

/* Reads the schema version into s->version: 0 when there is no version
 * table. Returns 0 or -1. */
static int
pg_read_version(pg_t *s, char *err, size_t errlen)
{
	PGresult *res = PQexec(s->conn, "SELECT to_regclass('fanout_schema_version') IS NOT NULL");
	int exists;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return pg_fail(s, err, errlen, "read the schema version");
	}
	exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	s->version = 0;
	if (!exists)
		return 0;
	res = PQexec(s->conn, "SELECT coalesce(max(version), 0) FROM fanout_schema_version");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		PQclear(res);
		return pg_fail(s, err, errlen, "read the schema version");
	}
	s->version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* Brings the schema up to date in one transaction under an advisory lock.
 * Returns 0, or -1 with the reason in err. */
static int
pg_migrate(pg_t *s, char *err, size_t errlen)
{
	size_t i;

	if (pg_exec(s, "BEGIN", "begin", err, errlen) != 0)
		return -1;
	if (pg_exec(s, "SELECT pg_advisory_xact_lock(" STORE_PG_LOCK ")", "lock", err, errlen) !=
	        0 ||
	    pg_exec(
	        s, "CREATE TABLE IF NOT EXISTS fanout_schema_version (version INTEGER PRIMARY KEY)",
	        "create the version table", err, errlen) != 0 ||
	    pg_read_version(s, err, errlen) != 0)
		goto fail;
	if (s->version > (int)store_pg_nmigrations) {
		gh_err(err, errlen,
		       "PostgreSQL database %s: schema version %d is newer than this program knows "
		       "(%d)",
		       PQdb(s->conn), s->version, (int)store_pg_nmigrations);
		goto fail;
	}
	for (i = (size_t)s->version; i < store_pg_nmigrations; i++) {
		char sql[96];

		snprintf(sql, sizeof(sql), "INSERT INTO fanout_schema_version VALUES (%zu)", i + 1);
		if (pg_exec(s, store_pg_migrations[i], "migrate", err, errlen) != 0 ||
		    pg_exec(s, sql, "record the schema version", err, errlen) != 0)
			goto fail;
		s->version = (int)i + 1;
	}
	return pg_exec(s, "COMMIT", "commit", err, errlen);
fail:
	pg_exec(s, "ROLLBACK", "rollback", NULL, 0);
	return -1;
}

/* Checks the schema of a read-only connection. Returns 0, or -1 with the
 * reason in err. */
static int
pg_check_schema(pg_t *s, char *err, size_t errlen)
{
	if (pg_read_version(s, err, errlen) != 0)
		return -1;
	if (s->version == 0)
		return gh_err(err, errlen,
		              "PostgreSQL database %s: not a fanout database (schema "
		              "version 0)",
		              PQdb(s->conn));
	if (s->version > (int)store_pg_nmigrations)
		return gh_err(
		    err, errlen,
		    "PostgreSQL database %s: schema version %d is newer than this program "
		    "knows (%d)",
		    PQdb(s->conn), s->version, (int)store_pg_nmigrations);
	return 0;
}

static int
pg_prepare(pg_t *s, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < PS_COUNT; i++) {
		char name[16];
		PGresult *res;
		ExecStatusType rc;

		snprintf(name, sizeof(name), "s%d", i);
		res = PQprepare(s->conn, name, pg_sql[i], 0, NULL);
		rc = PQresultStatus(res);
		PQclear(res);
		if (rc != PGRES_COMMAND_OK)
			return pg_fail(s, err, errlen, "prepare");
	}
	return 0;
}

static void
pg_destroy(store_t *base)
{
	pg_t *s = (pg_t *)base;

	PQfinish(s->conn);
	free(s);
}

/* Ignores libpq's notices (CREATE TABLE IF NOT EXISTS tells of a table that
 * exists) instead of printing them on stderr. */
static void
pg_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static store_t *
pg_open(const char *uri, int readonly, char *err, size_t errlen)
{
	pg_t *s = gh_calloc(1, sizeof(*s));
	int rc;

	s->base.ops = &store_pg_ops;
	s->conn = PQconnectdb(uri);
	if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
		const char *msg;
		int len = pg_message(s->conn, &msg);

		/* Not the URI: it may hold a password. */
		gh_err(err, errlen, "cannot connect to the PostgreSQL database: %.*s", len, msg);
		pg_destroy(&s->base);
		errno = ECONNREFUSED;
		return NULL;
	}
	PQsetNoticeProcessor(s->conn, pg_notice, NULL);
	if (readonly)
		rc = pg_exec(s, "SET default_transaction_read_only = on", "set read-only", err,
		             errlen) != 0 ||
		     pg_check_schema(s, err, errlen) != 0;
	else
		rc = pg_migrate(s, err, errlen) != 0;
	if (rc != 0 || pg_prepare(s, err, errlen) != 0) {
		pg_destroy(&s->base);
		errno = EINVAL;
		return NULL;
	}
	return &s->base;
}

static int
pg_schema_version(store_t *base)
{
	pg_t *s = (pg_t *)base;

	return pg_read_version(s, NULL, 0) == 0 ? s->version : -1;
}

/* Whether topic/client is a live subscription (store_live_fn). */
static int
pg_live(store_t *base, const char *topic, const char *client, int64_t now, char *err, size_t errlen)
{
	char snow[24];
	const char *params[3] = {topic, client, snow};
	PGresult *res;
	int live;

	snprintf(snow, sizeof(snow), "%" PRId64, now);
	res = pg_run((pg_t *)base, PS_LIVE, 3, params, PGRES_TUPLES_OK, "check the function name",
	             err, errlen);
	if (res == NULL)
		return -1;
	live = PQntuples(res) > 0;
	PQclear(res);
	return live;
}

static int
pg_subscribe(store_t *base, const char *topic, const char *client, int64_t ttl_s, int64_t now,
             char *err, size_t errlen)
{
	pg_t *s = (pg_t *)base;
	char sexp[24];
	const char *params[3] = {topic, client, NULL};
	PGresult *res;
	int rc;

	if (ttl_s > 0) {
		snprintf(sexp, sizeof(sexp), "%" PRId64, now + ttl_s);
		params[2] = sexp;
	}
	if (pg_exec(s, "BEGIN", "begin", err, errlen) != 0)
		return -1;
	res = pg_run(s, PS_LOCK, 0, NULL, PGRES_TUPLES_OK, "lock", err, errlen);
	rc = res != NULL ? 0 : -1;
	PQclear(res);
	if (rc == 0)
		rc = store_taken(base, topic, client, now, pg_live, err, errlen);
	if (rc == 0) {
		res =
		    pg_run(s, PS_SUBSCRIBE, 3, params, PGRES_COMMAND_OK, "subscribe", err, errlen);
		rc = res != NULL ? 0 : -1;
		PQclear(res);
	}
	if (rc == 0)
		rc = pg_exec(s, "COMMIT", "commit", err, errlen);
	else
		pg_exec(s, "ROLLBACK", "rollback", NULL, 0);
	return rc;
}

/* Runs a change with n parameters. Returns the rows changed, or -1. */
static int
pg_change(pg_t *s, int st, int n, const char *const *params, const char *what, char *err,
          size_t errlen)
{
	PGresult *res = pg_run(s, st, n, params, PGRES_COMMAND_OK, what, err, errlen);
	int changed;

	if (res == NULL)
		return -1;
	changed = pg_changed(res);
	PQclear(res);
	return changed;
}

static int
pg_unsubscribe(store_t *base, const char *topic, const char *client, char *err, size_t errlen)
{
	const char *params[2] = {topic, client};
	int n = pg_change((pg_t *)base, PS_UNSUBSCRIBE, 2, params, "unsubscribe", err, errlen);

	return n < 0 ? n : n > 0;
}

static int
pg_purge_client(store_t *base, const char *client, char *err, size_t errlen)
{
	const char *params[1] = {client};

	return pg_change((pg_t *)base, PS_PURGE, 1, params, "purge client", err, errlen);
}

static int
pg_expire(store_t *base, int64_t now, char *err, size_t errlen)
{
	char snow[24];
	const char *params[1] = {snow};

	snprintf(snow, sizeof(snow), "%" PRId64, now);
	return pg_change((pg_t *)base, PS_EXPIRE, 1, params, "expire", err, errlen);
}

/* Collects column 0 of every row into out (and the earliest non-NULL
 * column 1 if with_expiry). Returns 0, or -1 (out then empty). */
static int
pg_collect(pg_t *s, int st, int n, const char *const *params, int with_expiry, const char *what,
           store_list_t *out, char *err, size_t errlen)
{
	PGresult *res = pg_run(s, st, n, params, PGRES_TUPLES_OK, what, err, errlen);
	int i, rows;

	memset(out, 0, sizeof(*out));
	if (res == NULL)
		return -1;
	rows = PQntuples(res);
	if (rows > 0) /* none: items stays NULL, as the SQLite engine leaves it */
		out->items = gh_calloc((size_t)rows, sizeof(*out->items));
	for (i = 0; i < rows; i++) {
		out->items[out->n++] = gh_strdup(PQgetvalue(res, i, 0));
		if (with_expiry && !PQgetisnull(res, i, 1)) {
			int64_t at = strtoll(PQgetvalue(res, i, 1), NULL, 10);

			if (out->earliest_expiry == 0 || at < out->earliest_expiry)
				out->earliest_expiry = at;
		}
	}
	PQclear(res);
	return 0;
}

static int
pg_subscribers(store_t *base, const char *topic, int64_t now, store_list_t *out, char *err,
               size_t errlen)
{
	char snow[24];
	const char *params[2] = {topic, snow};

	snprintf(snow, sizeof(snow), "%" PRId64, now);
	return pg_collect((pg_t *)base, PS_SUBSCRIBERS, 2, params, 1, "list subscribers", out, err,
	                  errlen);
}

static int
pg_topics(store_t *base, int64_t now, store_list_t *out, char *err, size_t errlen)
{
	char snow[24];
	const char *params[1] = {snow};

	snprintf(snow, sizeof(snow), "%" PRId64, now);
	return pg_collect((pg_t *)base, PS_TOPICS, 1, params, 0, "list topics", out, err, errlen);
}

static int
pg_client_topics(store_t *base, const char *client, store_list_t *out, char *err, size_t errlen)
{
	const char *params[1] = {client};

	return pg_collect((pg_t *)base, PS_CLIENT_TOPICS, 1, params, 0, "list topics of a client",
	                  out, err, errlen);
}

static int
pg_subscriptions(store_t *base, const char *topic, int64_t now, store_subs_t *out, char *err,
                 size_t errlen)
{
	char snow[24];
	const char *params[2] = {snow, topic};
	PGresult *res;
	int i, rows;

	memset(out, 0, sizeof(*out));
	snprintf(snow, sizeof(snow), "%" PRId64, now);
	res = pg_run((pg_t *)base, PS_SUBSCRIPTIONS, 2, params, PGRES_TUPLES_OK,
	             "list subscriptions", err, errlen);
	if (res == NULL)
		return -1;
	rows = PQntuples(res);
	if (rows > 0) /* none: items stays NULL, as the SQLite engine leaves it */
		out->items = gh_calloc((size_t)rows, sizeof(*out->items));
	for (i = 0; i < rows; i++) {
		store_sub_t *sub = &out->items[out->n++];

		sub->topic = gh_strdup(PQgetvalue(res, i, 0));
		sub->client = gh_strdup(PQgetvalue(res, i, 1));
		sub->expires_at =
		    PQgetisnull(res, i, 2) ? 0 : strtoll(PQgetvalue(res, i, 2), NULL, 10);
	}
	PQclear(res);
	return 0;
}

static int
pg_count(store_t *base, int64_t now, int64_t *topics, int64_t *subscriptions, char *err,
         size_t errlen)
{
	char snow[24];
	const char *params[1] = {snow};
	PGresult *res;

	*topics = *subscriptions = 0;
	snprintf(snow, sizeof(snow), "%" PRId64, now);
	res = pg_run((pg_t *)base, PS_TOTALS, 1, params, PGRES_TUPLES_OK, "count subscriptions",
	             err, errlen);
	if (res == NULL)
		return -1;
	*topics = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*subscriptions = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	PQclear(res);
	return 0;
}

const store_ops_t store_pg_ops = {
    .open = pg_open,
    .destroy = pg_destroy,
    .schema_version = pg_schema_version,
    .subscribe = pg_subscribe,
    .unsubscribe = pg_unsubscribe,
    .subscribers = pg_subscribers,
    .topics = pg_topics,
    .subscriptions = pg_subscriptions,
    .client_topics = pg_client_topics,
    .count = pg_count,
    .purge_client = pg_purge_client,
    .expire = pg_expire,
};
