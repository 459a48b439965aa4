/*
 * journal.c: see journal.h. The schema is compiled in from
 * schema/router-journal-*.sql (journal-sql.c); migration i + 1 runs when
 * PRAGMA user_version is i.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

long
journal_replay(journal_t *j, journal_replay_fn *fn, void *arg)
{
	sqlite3_stmt *st;
	long n = 0;
	int rc;

	if (sqlite3_prepare_v2(j->db,
	                       "SELECT msgid, client, queue, headers, reply_requested, body, "
	                       "retries_left, accepted_ms FROM job ORDER BY accepted_ms, rowid",
	                       -1, &st, NULL) != SQLITE_OK) {
		log_error("journal: replay: %s", sqlite3_errmsg(j->db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		journal_job_t job;
		memset(&job, 0, sizeof(job));
		job.msgid = (const char *)sqlite3_column_text(st, 0);
		job.client = sqlite3_column_blob(st, 1);
		job.clen = (size_t)sqlite3_column_bytes(st, 1);
		job.queue = (const char *)sqlite3_column_text(st, 2);
		job.headers = (const char *)sqlite3_column_text(st, 3);
		job.hlen = (size_t)sqlite3_column_bytes(st, 3);
		job.reply_requested = sqlite3_column_int(st, 4);
		job.body = sqlite3_column_blob(st, 5);
		job.blen = (size_t)sqlite3_column_bytes(st, 5);
		job.retries_left = (long)sqlite3_column_int64(st, 6);
		job.accepted_ms = sqlite3_column_int64(st, 7);
		if (!job.msgid || !job.queue || !job.headers)
			continue;
		fn(arg, &job);
		n++;
	}
	if (rc != SQLITE_DONE)
		log_error("journal: replay: %s", sqlite3_errmsg(j->db));
	sqlite3_finalize(st);
	return n;
}
