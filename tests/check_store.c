/*
 * check_store: the SQLite subscriber store of gearhorn-fanout and its
 * subscriber cache, on real database files in a private directory.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cache.h"
#include "store.h"
#include "lib/check_main.h"
#include "lib/files.h"

static char tmpdir[1024];
static char dbpath[1100];

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
	TCase *tcc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_open_creates_schema);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_subscribe_unsubscribe);
	tcase_add_test(tc, test_ttl_and_expire);
	tcase_add_test(tc, test_purge_and_topics);
	tcase_add_test(tc, test_sql_metacharacters);
	tcase_add_test(tc, test_two_connections);
	tcase_add_test(tcc, test_cache);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tcc);
	return s;
}
