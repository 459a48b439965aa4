/*
 * db.h: opening a SQLite database the way every gearhorn store wants it:
 * WAL, synchronous=NORMAL, a busy timeout, and numbered schema migrations
 * tracked in PRAGMA user_version.
 */
#ifndef GEARHORN_DB_H
#define GEARHORN_DB_H

#include <stddef.h>

#include <sqlite3.h>

/* A connection to path opened with flags (SQLITE_OPEN_READWRITE, say; no
 * mutex), the busy timeout and extended result codes set, and nothing else
 * done: no journal mode, no migration. Returns it (caller owns it;
 * sqlite3_close_v2 it), or NULL with a message in err. */
sqlite3 *db_connect(const char *path, int flags, char *err, size_t errlen);

/* Opens (creating it if needed) the database at path (":memory:" for a
 * private one) and applies migrations[version..n) that it lacks, each with
 * its user_version bump, in one write transaction so that processes sharing
 * the file never migrate twice. migrations[i] is the SQL that takes version
 * i to i + 1. A database newer than n is refused. Returns the connection
 * (caller owns it; sqlite3_close_v2 it), or NULL with a message in err. */
sqlite3 *db_open(const char *path, const char *const *migrations, size_t n, char *err,
                 size_t errlen);

/* The schema version of an open database, or -1. */
int db_version(sqlite3 *db);

#endif
