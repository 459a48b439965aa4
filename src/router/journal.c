/*
 * journal.c: see journal.h. The schema is compiled in from
 * schema/router-journal-*.sql (journal-sql.c); migration i + 1 runs when
 * PRAGMA user_version is i.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "db.h"
#include "journal.h"
#include "log.h"
#include "util.h"

extern const char *const journal_migrations[];
extern const size_t journal_nmigrations;

/* A batch is the transaction between two journal_commit calls. A write that
 * fails dooms its batch: the rest of it is not written (after some errors
 * SQLite has already rolled the transaction back, and the statements would
 * each commit on their own), and journal_commit rolls it back and fails, so
 * that the caller refuses every job it held. The deletes of a batch are
 * kept until it commits, and written again in the next batch if it fails:
 * a job that ended must not run again after a restart. */
struct journal {
	sqlite3 *db;
	sqlite3_stmt *ins, *del, *begin, *commit, *rollback;
	int in_tx;
	int failed;      /* a write of this batch failed */
	char error[256]; /* the first failure of this batch */
	char **dels;     /* msgids deleted in this batch or in failed ones */
	size_t ndels, capdels;
};

static void journal_forget_dels(journal_t *j);

journal_t *
journal_open(const char *path, journal_sync_t sync, char *err, size_t errlen)
{
	journal_t *j = gh_calloc(1, sizeof(*j));

	j->db = db_open(path, journal_migrations, journal_nmigrations, err, errlen);
	if (j->db == NULL) {
		journal_close(&j);
		return NULL;
	}
	if (sqlite3_exec(j->db,
	                 sync == JOURNAL_SYNC_FULL ? "PRAGMA synchronous=FULL"
	                                           : "PRAGMA synchronous=NORMAL",
	                 NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(j->db,
	                       "INSERT OR REPLACE INTO job (msgid, client, queue, headers, "
	                       "reply_requested, body, retries_left, accepted_ms) "
	                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	                       -1, &j->ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(j->db, "DELETE FROM job WHERE msgid = ?", -1, &j->del, NULL) !=
	        SQLITE_OK ||
	    sqlite3_prepare_v2(j->db, "BEGIN", -1, &j->begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(j->db, "COMMIT", -1, &j->commit, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(j->db, "ROLLBACK", -1, &j->rollback, NULL) != SQLITE_OK) {
		gh_err(err, errlen, "%s: %s", path, sqlite3_errmsg(j->db));
		journal_close(&j);
		return NULL;
	}
	return j;
}

void
journal_close(journal_t **self_p)
{
	journal_t *j;
	char err[256];

	if (!self_p || !*self_p)
		return;
	j = *self_p;
	if (j->db && journal_commit(j, err, sizeof(err)) < 0)
		log_error("journal: %s", err);
	sqlite3_finalize(j->ins);
	sqlite3_finalize(j->del);
	sqlite3_finalize(j->begin);
	sqlite3_finalize(j->commit);
	sqlite3_finalize(j->rollback);
	sqlite3_close_v2(j->db);
	journal_forget_dels(j);
	free(j->dels);
	free(j);
	*self_p = NULL;
}

/* Records the first failure of the batch: what, and SQLite's reason. */
static void
journal_fail(journal_t *j, const char *what)
{
	if (j->failed)
		return;
	j->failed = 1;
	gh_err(j->error, sizeof(j->error), "%s: %s", what, sqlite3_errmsg(j->db));
}

static void
journal_forget_dels(journal_t *j)
{
	for (size_t i = 0; i < j->ndels; i++)
		free(j->dels[i]);
	j->ndels = 0;
}

static void
journal_exec_del(journal_t *j, const char *msgid)
{
	if (j->failed)
		return;
	sqlite3_bind_text(j->del, 1, msgid, -1, SQLITE_STATIC);
	if (sqlite3_step(j->del) != SQLITE_DONE)
		journal_fail(j, "delete");
	sqlite3_reset(j->del);
	sqlite3_clear_bindings(j->del);
}

/* Opens the batch's transaction, with the deletes that failed batches
 * left. */
static void
journal_begin(journal_t *j)
{
	if (j->in_tx || j->failed)
		return;
	if (sqlite3_step(j->begin) != SQLITE_DONE) {
		journal_fail(j, "BEGIN");
		sqlite3_reset(j->begin);
		return;
	}
	sqlite3_reset(j->begin);
	j->in_tx = 1;
	for (size_t i = 0; i < j->ndels; i++)
		journal_exec_del(j, j->dels[i]);
}

int
journal_commit(journal_t *j, char *err, size_t errlen)
{
	if (!j)
		return 0;
	if (!j->in_tx && !j->failed && j->ndels > 0)
		journal_begin(j); /* deletes left by a failed batch */
	if (!j->in_tx && !j->failed)
		return 0;
	if (!j->failed) {
		if (sqlite3_step(j->commit) != SQLITE_DONE)
			journal_fail(j, "COMMIT");
		sqlite3_reset(j->commit);
	}
	if (!j->failed) {
		j->in_tx = 0;
		journal_forget_dels(j);
		return 1;
	}
	/* Nothing of a failed batch may stay: its jobs are refused. If the
	 * rollback fails too, the next BEGIN fails and this runs again. */
	if (!sqlite3_get_autocommit(j->db)) {
		sqlite3_step(j->rollback);
		sqlite3_reset(j->rollback);
	}
	j->in_tx = 0;
	j->failed = 0;
	gh_err(err, errlen, "%s", j->error);
	return -1;
}

void
journal_add(journal_t *j, const journal_job_t *job)
{
	sqlite3_stmt *s = j->ins;

	journal_begin(j);
	if (j->failed)
		return;
	sqlite3_bind_text(s, 1, job->msgid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, job->clen ? job->client : "", (int)job->clen, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, job->queue, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, job->headers, (int)job->hlen, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, job->reply_requested);
	sqlite3_bind_blob(s, 6, job->blen ? job->body : "", (int)job->blen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, job->retries_left);
	sqlite3_bind_int64(s, 8, job->accepted_ms);
	if (sqlite3_step(s) != SQLITE_DONE)
		journal_fail(j, "insert");
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

void
journal_del(journal_t *j, const char *msgid)
{
	if (j->ndels == j->capdels) {
		j->capdels = j->capdels ? j->capdels * 2 : 64;
		j->dels = gh_realloc(j->dels, j->capdels * sizeof(*j->dels));
	}
	j->dels[j->ndels++] = gh_strdup(msgid);
	if (j->in_tx)
		journal_exec_del(j, msgid);
	else
		journal_begin(j); /* runs every kept delete, this one too */
}

/* ---- reading what can be read ----
 *
 * SQLite reads a table through its b-tree: a damaged page fails every read
 * whose path goes through it, and a plain SELECT stops at the first. The
 * reader goes on past it. It reads the job table in rowid order from a
 * rowid on (a seek from the root, which does not pass through the pages
 * before it); when a read fails, it probes the rowids after the last one it
 * read, one by one, for the next one a seek reaches (then every 2^k-th,
 * after JOURNAL_PROBES of them, so that a damaged last page ends the
 * search), and reads on from there. A row whose rowid can be reached but
 * whose content cannot (a damaged overflow page) is skipped alone. So every
 * row on a readable page is read, as a lookup of each rowid would find it,
 * except rows past JOURNAL_PROBES rowids of unused numbers behind a damaged
 * page, when a later page is damaged too. This is what the sqlite3 shell's
 * .recover does through the library's b-tree, without reading raw pages
 * (which needs its sqlite_dbpage table, not built into the library). */

#define JOURNAL_PROBES 65536
#define JOURNAL_COLUMNS \
	"msgid, client, queue, headers, reply_requested, body, retries_left, accepted_ms"

typedef struct {
	sqlite3 *db;
	sqlite3_stmt *scan;  /* the rows from a rowid on */
	sqlite3_stmt *first; /* the first rowid from a rowid on */
	journal_replay_fn *fn;
	void *arg;
	journal_report_t *rep;
} reader_t;

/* Errors that say nothing about the file: reading stops. The others
 * (corruption, a file that is not a database, an I/O error) are damage. */
static int
journal_transient(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_NOMEM || rc == SQLITE_BUSY || rc == SQLITE_LOCKED ||
	       rc == SQLITE_INTERRUPT;
}

static void
journal_damage(journal_report_t *rep, const char *problem)
{
	rep->damaged = 1;
	if (!rep->problem[0])
		gh_strlcpy(rep->problem, problem, sizeof(rep->problem));
}

/* Columns c0.. of st as a job, borrowed until st's next step. Returns 0, or
 * -1 if a column that is NOT NULL in the schema reads as NULL. */
static int
journal_row(sqlite3_stmt *st, int c0, journal_job_t *job)
{
	memset(job, 0, sizeof(*job));
	job->msgid = (const char *)sqlite3_column_text(st, c0);
	job->client = sqlite3_column_blob(st, c0 + 1);
	job->clen = (size_t)sqlite3_column_bytes(st, c0 + 1);
	job->queue = (const char *)sqlite3_column_text(st, c0 + 2);
	job->headers = (const char *)sqlite3_column_text(st, c0 + 3);
	job->hlen = (size_t)sqlite3_column_bytes(st, c0 + 3);
	job->reply_requested = sqlite3_column_int(st, c0 + 4);
	job->body = sqlite3_column_blob(st, c0 + 5);
	job->blen = (size_t)sqlite3_column_bytes(st, c0 + 5);
	job->retries_left = (long)sqlite3_column_int64(st, c0 + 6);
	job->accepted_ms = sqlite3_column_int64(st, c0 + 7);
	return job->msgid && job->queue && job->headers ? 0 : -1;
}

/* Reads the rows from *pos on, passing each to fn; *pos follows the last
 * one read. Returns SQLITE_DONE at the end, or the error that stopped it. */
static int
reader_scan(reader_t *rd, int64_t *pos)
{
	int rc;

	sqlite3_bind_int64(rd->scan, 1, *pos);
	while ((rc = sqlite3_step(rd->scan)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(rd->scan, 0);
		journal_job_t job;

		if (journal_row(rd->scan, 1, &job) == 0 && rd->fn(rd->arg, &job) == 0) {
			rd->rep->restored++;
		} else {
			rd->rep->unreadable++;
			journal_damage(rd->rep, "a row holds what no job can hold");
		}
		if (id == INT64_MAX) {
			rc = SQLITE_DONE;
			break;
		}
		*pos = id + 1;
	}
	if (rc != SQLITE_DONE)
		journal_damage(rd->rep, sqlite3_errmsg(rd->db));
	sqlite3_reset(rd->scan);
	return rc;
}

/* Reading stopped at the first row from *pos on: finds the next rowid a
 * read can start from. The router's rows have rowids from 1 up (SQLite's
 * own, never set), so probing starts at 1 at the least. Returns 0 with *pos
 * set, 1 when nothing after can be reached, -1 on a transient error. */
static int
reader_skip(reader_t *rd, int64_t *pos)
{
	int64_t p, id;
	uint64_t step = 1;
	int rc;

	if (*pos < 1)
		*pos = 1;
	p = *pos;

	for (uint64_t k = 0;; k++) {
		sqlite3_bind_int64(rd->first, 1, p);
		rc = sqlite3_step(rd->first);
		id = rc == SQLITE_ROW ? sqlite3_column_int64(rd->first, 0) : 0;
		sqlite3_reset(rd->first);
		if (rc == SQLITE_ROW && k == 0) {
			/* Its rowid can be reached, its content cannot. */
			rd->rep->unreadable++;
			if (id == INT64_MAX)
				return 1;
			*pos = id + 1;
			return 0;
		}
		if (rc == SQLITE_ROW) {
			rd->rep->ranges++;
			*pos = id;
			return 0;
		}
		if (rc == SQLITE_DONE || p == INT64_MAX) {
			if (k > 0 || rc != SQLITE_DONE)
				rd->rep->ranges++;
			return 1;
		}
		if (journal_transient(rc))
			return -1;
		if (k >= JOURNAL_PROBES && step < (1ull << 62))
			step *= 2;
		p = (uint64_t)(INT64_MAX - p) < step ? INT64_MAX : p + (int64_t)step;
	}
}

/* Every row of db's job table that can be read, in rowid order, to fn.
 * Returns 0 with rep updated, or -1 with err. */
static int
journal_read(sqlite3 *db, journal_replay_fn *fn, void *arg, journal_report_t *rep, char *err,
             size_t errlen)
{
	reader_t rd = {db, NULL, NULL, fn, arg, rep};
	int64_t pos = INT64_MIN;
	int rc = 0;

	if (sqlite3_prepare_v2(
	        db, "SELECT rowid, " JOURNAL_COLUMNS " FROM job WHERE rowid >= ? ORDER BY rowid",
	        -1, &rd.scan, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT rowid FROM job WHERE rowid >= ? ORDER BY rowid LIMIT 1",
	                       -1, &rd.first, NULL) != SQLITE_OK) {
		if (journal_transient(sqlite3_errcode(db))) {
			gh_err(err, errlen, "%s", sqlite3_errmsg(db));
			rc = -1;
		} else {
			rep->lost = 1; /* nothing can be read: the schema is unreadable */
			journal_damage(rep, sqlite3_errmsg(db));
		}
		goto done;
	}
	for (;;) {
		int st = reader_scan(&rd, &pos);
		if (st == SQLITE_DONE)
			break;
		if (!journal_transient(st) && (st = reader_skip(&rd, &pos)) > 0)
			break;
		if (st != 0) {
			gh_err(err, errlen, "%s", sqlite3_errmsg(db));
			rc = -1;
			break;
		}
	}
	if (rep->unreadable || rep->ranges)
		rep->lost = 1;
done:
	sqlite3_finalize(rd.scan);
	sqlite3_finalize(rd.first);
	return rc;
}

/* ---- checking, salvaging, replaying ---- */

/* The rows of the job table: by its msgid index, else by the table itself;
 * -1 if neither can be counted. */
static long
journal_count(sqlite3 *db)
{
	static const char *const sql[] = {"SELECT count(*) FROM job",
	                                  "SELECT count(*) FROM job NOT INDEXED"};
	long n = -1;

	for (size_t i = 0; i < GH_ARRAY_LEN(sql) && n < 0; i++) {
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) != SQLITE_OK)
			continue;
		if (sqlite3_step(st) == SQLITE_ROW)
			n = (long)sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return n;
}

/* Opens path as it is, to read: no creation, no migration, and no
 * checkpoint on close, so that a damaged file and its write-ahead log stay
 * as they were found. NULL with err. */
static sqlite3 *
journal_open_raw(const char *path, char *err, size_t errlen)
{
	sqlite3 *db = db_connect(path, SQLITE_OPEN_READWRITE, err, errlen);

	if (db)
		sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	return db;
}

/* PRAGMA quick_check: every page and every row's format. Damage goes in
 * qc as "quick_check: FIRST PROBLEM (and N more)"; qc[0] stays 0 for none. */
static int
journal_quick_check(sqlite3 *db, char *qc, size_t qclen, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc, n = 0;
	char first[200] = "";

	qc[0] = '\0';
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK) {
		if (journal_transient(sqlite3_errcode(db))) {
			gh_err(err, errlen, "%s", sqlite3_errmsg(db));
			return -1;
		}
		gh_err(qc, qclen, "%s", sqlite3_errmsg(db));
		return 0;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *res = (const char *)sqlite3_column_text(st, 0), *line;

		/* One row per problem, or one "ok"; lines within a row too. */
		for (line = res ? res : ""; *line;) {
			size_t len = strcspn(line, "\n");
			if (!(len == 2 && strncmp(line, "ok", 2) == 0) &&
			    strncmp(line, "***", 3) != 0 && n++ == 0)
				snprintf(first, sizeof(first), "%.*s", (int)len, line);
			line += len;
			line += *line == '\n';
		}
	}
	if (rc != SQLITE_DONE) {
		if (journal_transient(rc)) {
			gh_err(err, errlen, "%s", sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return -1;
		}
		if (n++ == 0)
			gh_strlcpy(first, sqlite3_errmsg(db), sizeof(first));
	}
	sqlite3_finalize(st);
	if (n == 1)
		snprintf(qc, qclen, "quick_check: %s", first);
	else if (n > 1)
		snprintf(qc, qclen, "quick_check: %s (and %d more)", first, n - 1);
	return 0;
}

int
journal_check(const char *path, journal_replay_fn *fn, void *arg, journal_report_t *rep, char *err,
              size_t errlen)
{
	char qc[256];
	sqlite3 *db;
	int rc;

	memset(rep, 0, sizeof(*rep));
	rep->total = -1;
	if (access(path, F_OK) != 0)
		return 0; /* none yet: journal_open creates it */
	if ((db = journal_open_raw(path, err, errlen)) == NULL)
		return -1;
	if ((rc = journal_quick_check(db, qc, sizeof(qc), err, errlen)) != 0 ||
	    (!qc[0] && db_version(db) == 0))
		goto done; /* an error, or created and never migrated: no table yet */
	rc = journal_read(db, fn, arg, rep, err, errlen);
	rep->total = journal_count(db);
	if (rep->total >= 0 && rep->total > rep->restored)
		rep->lost = 1;
	if (qc[0]) /* after the reader's problem, which says more */
		journal_damage(rep, qc);
done:
	sqlite3_close_v2(db);
	return rc;
}

void
journal_report_text(const journal_report_t *rep, char *buf, size_t len)
{
	if (rep->total >= 0)
		snprintf(buf, len, "%ld of %ld job(s) can be read", rep->restored, rep->total);
	else if (rep->unreadable || rep->ranges)
		snprintf(buf, len,
		         "%ld job(s) can be read, %ld row(s) and %ld run(s) of pages cannot",
		         rep->restored, rep->unreadable, rep->ranges);
	else
		snprintf(buf, len, "%ld job(s) can be read", rep->restored);
}

typedef struct {
	journal_t *to;
	journal_replay_fn *fn;
	void *arg;
} salvage_t;

static int
on_salvage_row(void *arg, const journal_job_t *job)
{
	salvage_t *sv = arg;
	if (sv->fn(sv->arg, job) != 0)
		return -1;
	journal_add(sv->to, job);
	return 0;
}

/* Renames from + suffix to to + suffix if there is one. */
static int
journal_rename(const char *from, const char *to, const char *suffix, char *err, size_t errlen)
{
	char *a = gh_asprintf("%s%s", from, suffix), *b = gh_asprintf("%s%s", to, suffix);
	int rc = 0;

	if (rename(a, b) != 0 && (errno != ENOENT || !*suffix)) {
		gh_err(err, errlen, "cannot rename %s to %s: %s", a, b, strerror(errno));
		rc = -1;
	}
	free(a);
	free(b);
	return rc;
}

long
journal_salvage(const char *path, journal_replay_fn *fn, void *arg, journal_sync_t sync,
                char *aside, size_t asidelen, char *err, size_t errlen)
{
	char *tmp = gh_asprintf("%s.recovering", path), stamp[32], what[256];
	journal_report_t rep;
	salvage_t sv = {NULL, fn, arg};
	sqlite3 *db = NULL;
	long n = -1;
	struct tm tm;
	time_t now = time(NULL);

	/* The new journal is written beside it first, then takes its place;
	 * the old one, with its log, goes aside. */
	for (const char *const *sfx = (const char *const[]){"", "-wal", "-shm", NULL}; *sfx;
	     sfx++) {
		char *f = gh_asprintf("%s%s", tmp, *sfx);
		unlink(f);
		free(f);
	}
	memset(&rep, 0, sizeof(rep));
	if ((db = journal_open_raw(path, err, errlen)) == NULL ||
	    (sv.to = journal_open(tmp, sync, err, errlen)) == NULL)
		goto done;
	if (journal_read(db, on_salvage_row, &sv, &rep, err, errlen) != 0)
		goto done;
	if (journal_commit(sv.to, what, sizeof(what)) < 0) {
		gh_err(err, errlen, "%s: %s", tmp, what);
		goto done;
	}
	journal_close(&sv.to);
	sqlite3_close_v2(db);
	db = NULL;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(aside, asidelen, "%s.damaged-%s", path, stamp);
	for (int i = 2; access(aside, F_OK) == 0; i++)
		snprintf(aside, asidelen, "%s.damaged-%s.%d", path, stamp, i);
	if (journal_rename(path, aside, "", err, errlen) != 0 ||
	    journal_rename(path, aside, "-wal", err, errlen) != 0 ||
	    journal_rename(path, aside, "-shm", err, errlen) != 0 ||
	    journal_rename(tmp, path, "", err, errlen) != 0)
		goto done;
	n = rep.restored;
done:
	journal_close(&sv.to);
	sqlite3_close_v2(db);
	free(tmp);
	return n;
}

int
journal_replay(journal_t *j, journal_replay_fn *fn, void *arg, journal_report_t *rep, char *err,
               size_t errlen)
{
	memset(rep, 0, sizeof(*rep));
	rep->total = -1;
	return journal_read(j->db, fn, arg, rep, err, errlen);
}
