/*
 * check_store: the subscriber store of gearhorn-fanout and its subscriber
 * cache. The cases that hold for every engine run twice: on real SQLite
 * files in a private directory, and on a private PostgreSQL cluster
 * (tests/lib/harness.h), whose cases are left out when it cannot start.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "cache.h"
#include "store.h"
#include "lib/check_main.h"
#include "lib/files.h"
#include "lib/harness.h"

/* The migrations of each engine (fanout/store-sql.c, store-pg-sql.c). */
extern const size_t store_nmigrations;
extern const size_t store_pg_nmigrations;

static char tmpdir[1024];
static char dbpath[1300]; /* the database the case opens: a file or a URI */
static harness_pg_t pg;   /* the cluster, started by suite() */

static void
setup(void)
{
	ck_assert_int_eq(gh_tmpdir_make(tmpdir, sizeof(tmpdir), "check_store"), 0);
	snprintf(dbpath, sizeof(dbpath), "%s/fanout.db", tmpdir);
}

static void
teardown(void)
{
	gh_tmpdir_remove(tmpdir);
}

/* Runs sql on the cluster's database as its owner. */
static void
pg_sql(const char *sql)
{
	PGconn *conn = PQconnectdb(pg.uri);
	PGresult *res;

	ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "connect: %s", PQerrorMessage(conn));
	res = PQexec(conn, sql);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK ||
	                  PQresultStatus(res) == PGRES_TUPLES_OK,
	              "%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
}

/* Each PostgreSQL case begins on an empty database. */
static void
setup_pg(void)
{
	snprintf(dbpath, sizeof(dbpath), "%s", pg.uri);
	pg_sql("SET client_min_messages = warning;"
	       " DROP TABLE IF EXISTS subscriber, fanout_schema_version");
}

static void
stop_pg(void)
{
	harness_pg_stop(&pg, 0);
}

static store_t *
open_ok(void)
{
	char err[512] = "";
	store_t *s = store_open(dbpath, err, sizeof(err));

	ck_assert_msg(s != NULL, "store_open: %s", err);
	return s;
}

/* Returns the subscribers of topic joined with ",". Caller frees. */
static char *
subs_of(store_t *s, const char *topic, long now)
{
	store_list_t l;
	char err[256], *out = calloc(1, 4096);
	size_t i;

	ck_assert_int_eq(store_subscribers(s, topic, now, &l, err, sizeof(err)), 0);
	for (i = 0; i < l.n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, l.items[i]);
	}
	store_list_free(&l);
	return out;
}

#define ck_subs(s, topic, now, expect)               \
	do {                                         \
		char *got_ = subs_of(s, topic, now); \
		ck_assert_str_eq(got_, expect);      \
		free(got_);                          \
	} while (0)

START_TEST(test_open_creates_schema)
{
	store_t *s = open_ok();
	sqlite3 *db;
	sqlite3_stmt *st;

	ck_assert_int_eq(store_schema_version(s), store_schema_latest());
	ck_assert_int_ge(store_schema_latest(), 1);
	store_destroy(&s);
	ck_assert_ptr_null(s);
	store_destroy(&s);
	store_destroy(NULL);

	/* WAL mode persists in the file; the table and index exist. */
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_prepare_v2(db,
	                                    "SELECT count(*) FROM sqlite_master WHERE name IN "
	                                    "('subscriber', 'subscriber_client_id')",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	sqlite3_close(db);

	/* Reopening an up-to-date database changes nothing. */
	s = open_ok();
	ck_assert_int_eq(store_schema_version(s), store_schema_latest());
	store_destroy(&s);
}
END_TEST

START_TEST(test_open_errors)
{
	char err[512] = "", path[1200];
	sqlite3 *db;
	store_t *s;

	snprintf(path, sizeof(path), "%s/no/such/dir/x.db", tmpdir);
	s = store_open(path, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, path) != NULL, "err: %s", err);

	/* A database from a newer program is refused, not downgraded. */
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	s = store_open(dbpath, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "schema version 99 is newer") != NULL, "err: %s", err);

	/* Not a database at all. */
	unlink(dbpath);
	{
		FILE *f = fopen(dbpath, "w");

		ck_assert_ptr_nonnull(f);
		fputs("this is not an SQLite database, not at all, no.........................\n",
		      f);
		fclose(f);
	}
	s = store_open(dbpath, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, dbpath) != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_subscribe_unsubscribe)
{
	store_t *s = open_ok();
	char err[256];

	ck_subs(s, "t", 1000, "");
	ck_assert_int_eq(store_subscribe(s, "t", "b", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "t", "a", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "u", "a", 0, 1000, err, sizeof(err)), 0);
	/* A duplicate is a success and adds nothing. */
	ck_assert_int_eq(store_subscribe(s, "t", "a", 0, 1000, err, sizeof(err)), 0);
	ck_subs(s, "t", 1000, "a,b");
	ck_subs(s, "u", 1000, "a");

	ck_assert_int_eq(store_unsubscribe(s, "t", "a", err, sizeof(err)), 1);
	ck_assert_int_eq(store_unsubscribe(s, "t", "a", err, sizeof(err)), 0);
	ck_assert_int_eq(store_unsubscribe(s, "nope", "x", err, sizeof(err)), 0);
	ck_subs(s, "t", 1000, "b");
	ck_subs(s, "u", 1000, "a");
	store_destroy(&s);

	/* Subscriptions persist. */
	s = open_ok();
	ck_subs(s, "t", 1000, "b");
	store_destroy(&s);
}
END_TEST

START_TEST(test_ttl_and_expire)
{
	store_t *s = open_ok();
	store_list_t l;
	char err[256];

	ck_assert_int_eq(store_subscribe(s, "t", "short", 10, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "t", "long", 100, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "t", "forever", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribers(s, "t", 1000, &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_int_eq(l.earliest_expiry, 1010);
	store_list_free(&l);
	ck_assert_int_eq(l.n, 0);
	store_list_free(NULL);

	/* Expired subscriptions are invisible before they are swept. */
	ck_subs(s, "t", 1009, "forever,long,short");
	ck_subs(s, "t", 1010, "forever,long");

	/* Re-subscribing refreshes the ttl; a ttl of 0 makes it permanent. */
	ck_assert_int_eq(store_subscribe(s, "t", "short", 10, 1005, err, sizeof(err)), 0);
	ck_subs(s, "t", 1014, "forever,long,short");
	ck_assert_int_eq(store_subscribe(s, "t", "long", 0, 1005, err, sizeof(err)), 0);

	ck_assert_int_eq(store_expire(s, 1014, err, sizeof(err)), 0);
	ck_assert_int_eq(store_expire(s, 1015, err, sizeof(err)), 1);
	ck_subs(s, "t", 0, "forever,long");
	ck_assert_int_eq(store_subscribers(s, "t", 5000, &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.n, 2);
	ck_assert_int_eq(l.earliest_expiry, 0);
	store_list_free(&l);
	store_destroy(&s);
}
END_TEST

START_TEST(test_purge_and_topics)
{
	store_t *s = open_ok();
	store_list_t l;
	char err[256];

	ck_assert_int_eq(store_subscribe(s, "t1", "a", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "t2", "a", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "t2", "b", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "t3", "c", 5, 1000, err, sizeof(err)), 0);

	ck_assert_int_eq(store_topics(s, 1000, &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.items[0], "t1");
	ck_assert_str_eq(l.items[2], "t3");
	store_list_free(&l);
	ck_assert_int_eq(store_topics(s, 2000, &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.n, 2);
	store_list_free(&l);

	ck_assert_int_eq(store_purge_client(s, "a", err, sizeof(err)), 2);
	ck_assert_int_eq(store_purge_client(s, "a", err, sizeof(err)), 0);
	ck_subs(s, "t1", 1000, "");
	ck_subs(s, "t2", 1000, "b");
	store_destroy(&s);
}
END_TEST

START_TEST(test_sql_metacharacters)
{
	static const char *const evil[] = {"'; DROP TABLE subscriber; --",
	                                   "\"quoted\"",
	                                   "a%b_c",
	                                   "x' OR '1'='1",
	                                   "\xc3\xa9t\xc3\xa9",
	                                   "back\\slash"};
	store_t *s = open_ok();
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		ck_assert_int_eq(store_subscribe(s, evil[i], evil[i], 0, 1000, err, sizeof(err)),
		                 0);
		ck_subs(s, evil[i], 1000, evil[i]);
	}
	/* LIKE wildcards and quotes match only themselves. */
	ck_subs(s, "a_b_c", 1000, "");
	ck_subs(s, "x", 1000, "");
	ck_assert_int_eq(store_unsubscribe(s, evil[0], evil[0], err, sizeof(err)), 1);
	ck_assert_int_eq(store_purge_client(s, "%", err, sizeof(err)), 0);
	ck_subs(s, evil[1], 1000, evil[1]);
	store_destroy(&s);
}
END_TEST

START_TEST(test_two_connections)
{
	/* Two connections (as two threads or processes would hold) see each
	 * other's writes. */
	store_t *a = open_ok(), *b = open_ok();
	char err[256];
	int i;

	for (i = 0; i < 100; i++) {
		char client[32];

		snprintf(client, sizeof(client), "c%03d", i);
		ck_assert_int_eq(
		    store_subscribe(i % 2 ? a : b, "t", client, 0, 1, err, sizeof(err)), 0);
	}
	{
		store_list_t l;

		ck_assert_int_eq(store_subscribers(a, "t", 1, &l, err, sizeof(err)), 0);
		ck_assert_int_eq(l.n, 100);
		ck_assert_str_eq(l.items[0], "c000");
		ck_assert_str_eq(l.items[99], "c099");
		store_list_free(&l);
	}
	ck_assert_int_eq(store_purge_client(b, "c001", err, sizeof(err)), 1);
	ck_assert_int_eq(store_unsubscribe(a, "t", "c001", err, sizeof(err)), 0);
	store_destroy(&a);
	store_destroy(&b);
}
END_TEST

static store_t *
open_readonly_ok(void)
{
	char err[512] = "";
	store_t *s = store_open_readonly(dbpath, err, sizeof(err));

	ck_assert_msg(s != NULL, "store_open_readonly: %s", err);
	return s;
}

START_TEST(test_readonly_missing_file)
{
	char err[512] = "";

	errno = 0;
	ck_assert_ptr_null(store_open_readonly(dbpath, err, sizeof(err)));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_msg(strstr(err, dbpath) != NULL && strstr(err, "no such database") != NULL,
	              "err: %s", err);
	ck_assert_int_ne(access(dbpath, F_OK), 0);
}
END_TEST

START_TEST(test_readonly_refuses_writes)
{
	store_t *rw = open_ok(), *ro;
	store_list_t l;
	char err[256];

	ck_assert_int_eq(store_subscribe(rw, "t", "a", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(rw, "t", "b", 10, 1000, err, sizeof(err)), 0);
	store_destroy(&rw);

	ro = open_readonly_ok();
	ck_assert_int_eq(store_schema_version(ro), store_schema_latest());
	err[0] = '\0';
	ck_assert_int_eq(store_subscribe(ro, "t", "c", 0, 1000, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "readonly") != NULL || strstr(err, "read-only") != NULL,
	              "err: %s", err);
	ck_assert_int_eq(store_unsubscribe(ro, "t", "a", err, sizeof(err)), -1);
	ck_assert_int_eq(store_purge_client(ro, "a", err, sizeof(err)), -1);
	ck_assert_int_eq(store_expire(ro, 5000, err, sizeof(err)), -1);
	/* Nothing changed, and the connection still reads. */
	ck_subs(ro, "t", 1000, "a,b");
	ck_assert_int_eq(store_topics(ro, 1000, &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.n, 1);
	store_list_free(&l);
	store_destroy(&ro);
	ck_assert_ptr_null(ro);
	rw = open_ok();
	ck_subs(rw, "t", 1000, "a,b");
	store_destroy(&rw);
}
END_TEST

START_TEST(test_readonly_schema)
{
	char err[512] = "";
	sqlite3 *db;
	FILE *f;

	/* An empty file is an SQLite database without the schema. */
	f = fopen(dbpath, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	errno = 0;
	ck_assert_ptr_null(store_open_readonly(dbpath, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, "not a fanout database") != NULL, "err: %s", err);

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	errno = 0;
	ck_assert_ptr_null(store_open_readonly(dbpath, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, "schema version 99 is newer") != NULL, "err: %s", err);

	unlink(dbpath);
	f = fopen(dbpath, "w");
	ck_assert_ptr_nonnull(f);
	fputs("this is not an SQLite database, not at all, no.........................\n", f);
	fclose(f);
	errno = 0;
	ck_assert_ptr_null(store_open_readonly(dbpath, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, dbpath) != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_subscriptions_and_counts)
{
	store_t *rw = open_ok(), *ro;
	store_subs_t subs;
	store_list_t l;
	int64_t topics, total;
	char err[256];

	ck_assert_int_eq(store_subscribe(rw, "t2", "a", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(rw, "t1", "b", 50, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(rw, "t1", "a", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(rw, "t3", "a", 10, 1000, err, sizeof(err)), 0);
	ro = open_readonly_ok();

	/* Every live subscription, by topic then client, with its expiry. */
	ck_assert_int_eq(store_subscriptions(ro, NULL, 1000, &subs, err, sizeof(err)), 0);
	ck_assert_int_eq(subs.n, 4);
	ck_assert_str_eq(subs.items[0].topic, "t1");
	ck_assert_str_eq(subs.items[0].client, "a");
	ck_assert_int_eq(subs.items[0].expires_at, 0);
	ck_assert_str_eq(subs.items[1].client, "b");
	ck_assert_int_eq(subs.items[1].expires_at, 1050);
	ck_assert_str_eq(subs.items[2].topic, "t2");
	ck_assert_str_eq(subs.items[3].topic, "t3");
	ck_assert_int_eq(subs.items[3].expires_at, 1010);
	store_subs_free(&subs);
	ck_assert_int_eq(subs.n, 0);
	store_subs_free(NULL);

	/* One topic; an expired subscription is left out. */
	ck_assert_int_eq(store_subscriptions(ro, "t1", 1000, &subs, err, sizeof(err)), 0);
	ck_assert_int_eq(subs.n, 2);
	store_subs_free(&subs);
	ck_assert_int_eq(store_subscriptions(ro, "t3", 1010, &subs, err, sizeof(err)), 0);
	ck_assert_int_eq(subs.n, 0);
	store_subs_free(&subs);
	ck_assert_int_eq(store_subscriptions(ro, "t%", 1000, &subs, err, sizeof(err)), 0);
	ck_assert_int_eq(subs.n, 0);

	/* A client's topics include the expired ones, still in the file. */
	ck_assert_int_eq(store_client_topics(ro, "a", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.items[0], "t1");
	ck_assert_str_eq(l.items[2], "t3");
	store_list_free(&l);
	ck_assert_int_eq(store_client_topics(ro, "nobody", &l, err, sizeof(err)), 0);
	ck_assert_int_eq(l.n, 0);

	ck_assert_int_eq(store_count(ro, 1000, &topics, &total, err, sizeof(err)), 0);
	ck_assert_int_eq(topics, 3);
	ck_assert_int_eq(total, 4);
	ck_assert_int_eq(store_count(ro, 1020, &topics, &total, err, sizeof(err)), 0);
	ck_assert_int_eq(topics, 2);
	ck_assert_int_eq(total, 3);

	/* The read-only connection sees what the worker writes later. */
	ck_assert_int_eq(store_purge_client(rw, "a", err, sizeof(err)), 3);
	ck_assert_int_eq(store_count(ro, 1000, &topics, &total, err, sizeof(err)), 0);
	ck_assert_int_eq(topics, 1);
	ck_assert_int_eq(total, 1);
	store_destroy(&ro);
	store_destroy(&rw);
}
END_TEST

START_TEST(test_function_names)
{
	/* topic_client_id is a gearman function: two subscriptions may not
	 * share one, whichever connection makes them. */
	store_t *s = open_ok(), *other = open_ok();
	char err[256];

	ck_assert_int_eq(store_subscribe(s, "a_b", "c", 0, 1000, err, sizeof(err)), 0);
	err[0] = '\0';
	ck_assert_int_eq(store_subscribe(other, "a", "b_c", 0, 1000, err, sizeof(err)),
	                 STORE_TAKEN);
	ck_assert_str_eq(err,
	                 "topic_client_id a_b_c already names the function of client_id \"c\" on "
	                 "topic \"a_b\"");
	ck_subs(s, "a", 1000, "");
	/* The first renews as before; unrelated names are free. */
	ck_assert_int_eq(store_subscribe(s, "a_b", "c", 60, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "a", "b", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "a", "b_d", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(other, "a_b", "d_e", 0, 1000, err, sizeof(err)), 0);
	/* Every '_' is a possible split, empty names excluded. */
	ck_assert_int_eq(store_subscribe(other, "a_b_d", "e", 0, 1000, err, sizeof(err)),
	                 STORE_TAKEN);
	ck_assert_msg(strstr(err, "client_id \"d_e\" on topic \"a_b\"") != NULL, "%s", err);
	ck_assert_int_eq(store_subscribe(s, "x", "_y", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "x_", "y", 0, 1000, err, sizeof(err)), STORE_TAKEN);
	ck_assert_int_eq(store_subscribe(s, "_", "_", 0, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "__", "q", 0, 1000, err, sizeof(err)), 0);

	/* A subscription that has expired, swept or not, takes nothing; and
	 * once the first is gone, the second may subscribe. */
	ck_assert_int_eq(store_subscribe(s, "p_q", "r", 10, 1000, err, sizeof(err)), 0);
	ck_assert_int_eq(store_subscribe(s, "p", "q_r", 0, 1009, err, sizeof(err)), STORE_TAKEN);
	ck_assert_int_eq(store_subscribe(s, "p", "q_r", 0, 1010, err, sizeof(err)), 0);
	ck_subs(s, "p", 1010, "q_r");
	ck_assert_int_eq(store_unsubscribe(s, "a_b", "c", err, sizeof(err)), 1);
	ck_assert_int_eq(store_subscribe(other, "a", "b_c", 0, 1000, err, sizeof(err)), 0);
	ck_subs(s, "a", 1000, "b,b_c,b_d");
	store_destroy(&s);
	store_destroy(&other);
}
END_TEST

/* The files of a database in WAL mode: the database, its log and its
 * shared memory index. */
static const char *const db_files[] = {"", "-wal", "-shm"};

/* Removes all three, as an operator might. */
static void
remove_db_files(void)
{
	char path[1400];
	size_t i;

	for (i = 0; i < sizeof(db_files) / sizeof(db_files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dbpath, db_files[i]);
		unlink(path);
	}
}

START_TEST(test_moved)
{
	/* A change is done only once it is in the file at the path. */
	store_t *s = open_ok(), *fresh;
	char err[512], path[1400], moved[1400];
	size_t i;

	ck_assert_int_eq(store_subscribe(s, "t", "old", 0, 1000, err, sizeof(err)), 0);
	remove_db_files();
	err[0] = '\0';
	ck_assert_int_eq(store_subscribe(s, "t", "lost", 0, 1000, err, sizeof(err)), STORE_MOVED);
	ck_assert_msg(strstr(err, dbpath) != NULL && strstr(err, "deleted or replaced") != NULL &&
	                  strstr(err, "this change is lost") != NULL,
	              "err: %s", err);
	/* Every later change is refused without writing; reads go on from
	 * the open file. */
	err[0] = '\0';
	ck_assert_int_eq(store_unsubscribe(s, "t", "old", err, sizeof(err)), STORE_MOVED);
	ck_assert_msg(strstr(err, "changes are refused until it is opened anew") != NULL, "err: %s",
	              err);
	ck_assert_int_eq(store_purge_client(s, "old", err, sizeof(err)), STORE_MOVED);
	ck_assert_int_eq(store_expire(s, 5000, err, sizeof(err)), STORE_MOVED);
	ck_assert_int_eq(store_subscribe(s, "t", "later", 0, 1000, err, sizeof(err)), STORE_MOVED);
	ck_subs(s, "t", 1000, "lost,old");
	/* Even once a file is back at the path. */
	fresh = open_ok();
	ck_assert_int_eq(store_subscribe(s, "t", "later", 0, 1000, err, sizeof(err)), STORE_MOVED);
	ck_subs(fresh, "t", 1000, "");
	ck_assert_int_eq(store_subscribe(fresh, "t", "new", 0, 1000, err, sizeof(err)), 0);
	store_destroy(&s);

	/* The write-ahead log alone deleted: what is only in it is not where
	 * the next open looks. */
	s = open_ok();
	ck_assert_int_eq(store_subscribe(s, "t", "walled", 0, 1000, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s-wal", dbpath);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(store_subscribe(s, "t", "walless", 0, 1000, err, sizeof(err)),
	                 STORE_MOVED);
	ck_assert_int_eq(store_subscribe(fresh, "t", "x", 0, 1000, err, sizeof(err)), STORE_MOVED);
	store_destroy(&s);
	store_destroy(&fresh);

	/* Renamed away with its log, another file in its place. */
	remove_db_files();
	s = open_ok();
	for (i = 0; i < sizeof(db_files) / sizeof(db_files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dbpath, db_files[i]);
		snprintf(moved, sizeof(moved), "%s.old%s", dbpath, db_files[i]);
		ck_assert_int_eq(rename(path, moved), 0);
	}
	fresh = open_ok();
	ck_assert_int_eq(store_subscribe(s, "t", "renamed", 0, 1000, err, sizeof(err)),
	                 STORE_MOVED);
	ck_assert_int_eq(store_subscribe(fresh, "t", "kept", 0, 1000, err, sizeof(err)), 0);
	store_destroy(&s);
	store_destroy(&fresh);
	for (i = 0; i < sizeof(db_files) / sizeof(db_files[0]); i++) {
		snprintf(moved, sizeof(moved), "%s.old%s", dbpath, db_files[i]);
		unlink(moved);
	}
}
END_TEST

START_TEST(test_pg_open_creates_schema)
{
	store_t *s = open_ok();
	char err[512] = "";

	/* Migration N of one engine is migration N of the other. */
	ck_assert_int_eq((int)store_pg_nmigrations, (int)store_nmigrations);
	ck_assert_int_eq(store_schema_version(s), store_schema_latest());
	store_destroy(&s);
	ck_assert_ptr_null(s);
	/* Reopening an up-to-date database changes nothing. */
	s = open_ok();
	ck_assert_int_eq(store_schema_version(s), store_schema_latest());
	store_destroy(&s);

	/* A database from a newer program is refused, not downgraded. */
	pg_sql("INSERT INTO fanout_schema_version VALUES (99)");
	ck_assert_ptr_null(store_open(dbpath, err, sizeof(err)));
	ck_assert_msg(strstr(err, "schema version 99 is newer") != NULL, "err: %s", err);
	errno = 0;
	ck_assert_ptr_null(store_open_readonly(dbpath, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, "schema version 99 is newer") != NULL, "err: %s", err);
}
END_TEST

START_TEST(test_pg_readonly_schema)
{
	char err[512] = "";

	/* A database without the schema is not created by a read-only open. */
	errno = 0;
	ck_assert_ptr_null(store_open_readonly(dbpath, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(strstr(err, "not a fanout database") != NULL, "err: %s", err);
	errno = 0;
	ck_assert_ptr_null(store_open_readonly(dbpath, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(test_pg_connect_error)
{
	/* No server there: the reason, not the URI (it may hold a password). */
	char err[512] = "", uri[1400];

	snprintf(uri, sizeof(uri), "postgres://gearhorn:s3cret@/postgres?host=%s/nowhere", pg.dir);
	errno = 0;
	ck_assert_ptr_null(store_open(uri, err, sizeof(err)));
	ck_assert_int_ne(errno, EINVAL);
	ck_assert_msg(strstr(err, "cannot connect to the PostgreSQL database") != NULL, "err: %s",
	              err);
	ck_assert_msg(strstr(err, "s3cret") == NULL, "err: %s", err);
	errno = 0;
	ck_assert_ptr_null(store_open_readonly(uri, err, sizeof(err)));
	ck_assert_int_ne(errno, EINVAL);
}
END_TEST

static store_list_t
list_of(int64_t expiry, int n, ...)
{
	store_list_t l = {calloc((size_t)n + 1, sizeof(char *)), (size_t)n, expiry};
	va_list ap;
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		l.items[i] = strdup(va_arg(ap, const char *));
	va_end(ap);
	return l;
}

START_TEST(test_cache)
{
	cache_t *c = cache_new(10);
	store_list_t l = list_of(0, 2, "a", "b"), got;
	uint64_t gen;

	ck_assert_int_eq(cache_get(c, "t", 100, &got), 0);
	ck_assert_int_eq(got.n, 0);
	gen = cache_generation(c);
	cache_put(c, "t", &l, 100, gen);
	store_list_free(&l);
	ck_assert_int_eq(cache_get(c, "t", 105, &got), 1);
	ck_assert_int_eq(got.n, 2);
	ck_assert_str_eq(got.items[1], "b");
	store_list_free(&got);
	/* Aged out after max_age. */
	ck_assert_int_eq(cache_get(c, "t", 110, &got), 0);
	ck_assert_int_eq(cache_size(c), 0);

	/* An entry is not used past its earliest subscriber expiry. */
	l = list_of(103, 1, "x");
	cache_put(c, "t", &l, 100, cache_generation(c));
	store_list_free(&l);
	ck_assert_int_eq(cache_get(c, "t", 102, &got), 1);
	store_list_free(&got);
	ck_assert_int_eq(cache_get(c, "t", 103, &got), 0);

	/* Dropped by a change; an empty list is cached too. */
	l = list_of(0, 0);
	cache_put(c, "e", &l, 100, cache_generation(c));
	ck_assert_int_eq(cache_get(c, "e", 100, &got), 1);
	ck_assert_int_eq(got.n, 0);
	store_list_free(&got);
	cache_drop(c, "e");
	ck_assert_int_eq(cache_get(c, "e", 100, &got), 0);

	/* A list read before a change is not cached after it. */
	gen = cache_generation(c);
	cache_drop(c, "other");
	cache_put(c, "e", &l, 100, gen);
	ck_assert_int_eq(cache_get(c, "e", 100, &got), 0);
	cache_put(c, "e", &l, 100, cache_generation(c));
	cache_put(c, "f", &l, 100, cache_generation(c));
	ck_assert_int_eq(cache_size(c), 2);
	cache_clear(c);
	ck_assert_int_eq(cache_size(c), 0);
	store_list_free(&l);

	cache_destroy(&c);
	ck_assert_ptr_null(c);
	cache_destroy(&c);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("sqlite");
	TCase *tcp;
	TCase *tcc = tcase_create("cache");
	int rc;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_open_creates_schema);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_subscribe_unsubscribe);
	tcase_add_test(tc, test_ttl_and_expire);
	tcase_add_test(tc, test_function_names);
	tcase_add_test(tc, test_moved);
	tcase_add_test(tc, test_purge_and_topics);
	tcase_add_test(tc, test_sql_metacharacters);
	tcase_add_test(tc, test_two_connections);
	tcase_add_test(tc, test_readonly_missing_file);
	tcase_add_test(tc, test_readonly_refuses_writes);
	tcase_add_test(tc, test_readonly_schema);
	tcase_add_test(tc, test_subscriptions_and_counts);
	tcase_add_test(tcc, test_cache);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tcc);

	/* The same cases on PostgreSQL, and its own; the moved-file check and
	 * the missing file are SQLite's alone. */
	rc = harness_pg_start(&pg);
	if (rc != 0) {
		fprintf(stderr, "check_store: PostgreSQL cases skipped: the cluster %s\n",
		        rc > 0 ? "is not installed" : "did not start");
		return s;
	}
	gh_check_at_end(stop_pg);
	tcp = tcase_create("postgresql");
	tcase_add_checked_fixture(tcp, setup_pg, NULL);
	tcase_set_timeout(tcp, 60);
	tcase_add_test(tcp, test_pg_open_creates_schema);
	tcase_add_test(tcp, test_pg_readonly_schema);
	tcase_add_test(tcp, test_pg_connect_error);
	tcase_add_test(tcp, test_subscribe_unsubscribe);
	tcase_add_test(tcp, test_ttl_and_expire);
	tcase_add_test(tcp, test_function_names);
	tcase_add_test(tcp, test_purge_and_topics);
	tcase_add_test(tcp, test_sql_metacharacters);
	tcase_add_test(tcp, test_two_connections);
	tcase_add_test(tcp, test_readonly_refuses_writes);
	tcase_add_test(tcp, test_subscriptions_and_counts);
	suite_add_tcase(s, tcp);
	return s;
}
