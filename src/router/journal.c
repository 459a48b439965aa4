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

struct journal {
	sqlite3 *db;
	sqlite3_stmt *ins, *del, *begin, *commit;
	int in_tx;
};

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
	    sqlite3_prepare_v2(j->db, "COMMIT", -1, &j->commit, NULL) != SQLITE_OK) {
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
	if (j->db && journal_commit(j, err, sizeof(err)) != 0)
		log_error("journal: %s", err);
	sqlite3_finalize(j->ins);
	sqlite3_finalize(j->del);
	sqlite3_finalize(j->begin);
	sqlite3_finalize(j->commit);
	sqlite3_close_v2(j->db);
	free(j);
	*self_p = NULL;
}

static void
journal_begin(journal_t *j)
{
	if (j->in_tx)
		return;
	if (sqlite3_step(j->begin) != SQLITE_DONE)
		log_error("journal: BEGIN: %s", sqlite3_errmsg(j->db));
	else
		j->in_tx = 1;
	sqlite3_reset(j->begin);
}

int
journal_commit(journal_t *j, char *err, size_t errlen)
{
	int rc = 0;

	if (!j || !j->in_tx)
		return 0;
	if (sqlite3_step(j->commit) != SQLITE_DONE) {
		gh_err(err, errlen, "COMMIT: %s", sqlite3_errmsg(j->db));
		rc = -1;
	}
	sqlite3_reset(j->commit);
	j->in_tx = sqlite3_get_autocommit(j->db) ? 0 : 1;
	return rc;
}

void
journal_add(journal_t *j, const journal_job_t *job)
{
	sqlite3_stmt *s = j->ins;
	journal_begin(j);
	sqlite3_bind_text(s, 1, job->msgid, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, job->clen ? job->client : "", (int)job->clen, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, job->queue, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, job->headers, (int)job->hlen, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, job->reply_requested);
	sqlite3_bind_blob(s, 6, job->blen ? job->body : "", (int)job->blen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, job->retries_left);
	sqlite3_bind_int64(s, 8, job->accepted_ms);
	if (sqlite3_step(s) != SQLITE_DONE)
		log_error("journal: insert %s: %s", job->msgid, sqlite3_errmsg(j->db));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

void
journal_del(journal_t *j, const char *msgid)
{
	journal_begin(j);
	sqlite3_bind_text(j->del, 1, msgid, -1, SQLITE_STATIC);
	if (sqlite3_step(j->del) != SQLITE_DONE)
		log_error("journal: delete %s: %s", msgid, sqlite3_errmsg(j->db));
	sqlite3_reset(j->del);
	sqlite3_clear_bindings(j->del);
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
