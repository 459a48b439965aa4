/*
 * db.c: SQLite connections with migrations (see db.h).
 */
#include "config.h"

#include "db.h"

#include <stdio.h>

#include "util.h"

int
db_version(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int
exec(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	gh_err(err, errlen, "%s: %s", what, msg != NULL ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return -1;
}

sqlite3 *
db_connect(const char *path, int flags, char *err, size_t errlen)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		gh_err(err, errlen, "cannot open %s: %s", path,
		       db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close_v2(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_extended_result_codes(db, 1);
	return db;
}

sqlite3 *
db_open(const char *path, const char *const *migrations, size_t n, char *err, size_t errlen)
{
	sqlite3 *db;
	int v;
	size_t i;

	if ((db = db_connect(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, err, errlen)) ==
	    NULL)
		return NULL;
	if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", path, err, errlen) != 0)
		goto fail;
	/* BEGIN IMMEDIATE takes the write lock first: a second process that
	 * migrates at the same time waits, then finds nothing left to do. */
	if (exec(db, "BEGIN IMMEDIATE", path, err, errlen) != 0)
		goto fail;
	v = db_version(db);
	if (v < 0 || (size_t)v > n) {
		gh_err(err, errlen, "%s: schema version %d is newer than this program knows (%zu)",
		       path, v, n);
		goto rollback;
	}
	for (i = (size_t)v; i < n; i++) {
		char what[64], pragma[64];

		snprintf(what, sizeof(what), "%s: schema migration %zu", path, i + 1);
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %zu", i + 1);
		if (exec(db, migrations[i], what, err, errlen) != 0 ||
		    exec(db, pragma, what, err, errlen) != 0)
			goto rollback;
	}
	if (exec(db, "COMMIT", path, err, errlen) != 0)
		goto rollback;
	return db;
rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
fail:
	sqlite3_close_v2(db);
	return NULL;
}
