/*
 * schedule.c: schedules in memory and in SQLite (see schedule.h).
 */
#include "config.h"

#include "schedule.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "db.h"
#include "dict.h"
#include "log.h"
#include "proto.h"

typedef struct {
	char *key, *queue, *headers, *body, *cron;
	long interval, runs_left;
	time_t next;
	cron_t cr;
} entry_t;

struct sched {
	sqlite3 *db;
	sqlite3_stmt *put, *del;
	dict_t *entries; /* key -> entry_t */
	size_t skipped;  /* rows load() could not read */
	int unwritable;  /* the last write failed */
};

/* From schema/scheduler-*.sql, compiled in by the build (schema-sql.c). */
extern const char *const sched_migrations[];
extern const size_t sched_nmigrations;

static void
entry_free(void *p)
{
	entry_t *e = p;

	free(e->key);
	free(e->queue);
	free(e->headers);
	free(e->body);
	free(e->cron);
	free(e);
}

static time_t
first_after(const entry_t *e, time_t now)
{
	return cron_schedule_next(e->interval, &e->cr, now);
}

/* Notes how a write (what: "save", "delete") went. The first failure is
 * logged as an error, saying what goes on; the first success after it as a
 * notice. Returns 0 if ok, else -1 with err (may be NULL) filled. */
static int
wrote(sched_t *s, int ok, const char *what, char *err, size_t errlen)
{
	const char *why = sqlite3_errmsg(s->db);

	if (ok) {
		if (s->unwritable)
			log_notice("scheduler: the schedule database can be written again; "
			           "SCHEDULE and UNSCHEDULE are stored again");
		s->unwritable = 0;
		return 0;
	}
	if (!s->unwritable)
		log_error("scheduler: cannot %s a schedule: %s; until the database can be written, "
		          "SCHEDULE and UNSCHEDULE are refused (not-stored), and the %zu schedules "
		          "held go on running",
		          what, why, dict_size(s->entries));
	else
		log_debug("scheduler: cannot %s a schedule: %s", what, why);
	s->unwritable = 1;
	return gh_err(err, errlen, "the schedule database cannot be written: %s", why);
}

/* Writes e to the database. Returns 0, or -1 with err (may be NULL)
 * filled. */
static int
save(sched_t *s, const entry_t *e, char *err, size_t errlen)
{
	sqlite3_stmt *st = s->put;
	int rc;

	sqlite3_bind_text(st, 1, e->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, e->queue, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->headers, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, e->interval);
	sqlite3_bind_text(st, 5, e->cron, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, e->body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, e->runs_left);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)e->next);
	rc = wrote(s, sqlite3_step(st) == SQLITE_DONE, "save", err, errlen);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

/* Deletes the row of key. Returns the number of rows deleted (0 or 1), or
 * -1 with err (may be NULL) filled if the database could not be written. */
static int
forget(sched_t *s, const char *key, char *err, size_t errlen)
{
	int rc;

	sqlite3_bind_text(s->del, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->del) == SQLITE_DONE;
	rc = wrote(s, rc, "delete", err, errlen) == 0 ? sqlite3_changes(s->db) : -1;
	sqlite3_reset(s->del);
	sqlite3_clear_bindings(s->del);
	return rc;
}

/* The columns load() reads, in the order of its SELECT. */
enum {
	COL_KEY,
	COL_QUEUE,
	COL_HEADERS,
	COL_INTERVAL,
	COL_CRON,
	COL_BODY,
	COL_RUNS,
	COL_NEXT,
	COL_ROWID
};
static const char *const column_names[] = {"key",  "queue", "headers",   "interval_s",
                                           "cron", "body",  "runs_left", "next_run"};

static const char *
type_name(int type)
{
	switch (type) {
	case SQLITE_NULL:
		return "NULL";
	case SQLITE_INTEGER:
		return "an integer";
	case SQLITE_FLOAT:
		return "a real number";
	case SQLITE_BLOB:
		return "a blob";
	default:
		return "text";
	}
}

/* Column i of the row st is on, when it is text without NUL bytes
 * (borrowed, valid until the next step); NULL with why filled otherwise. */
static const char *
column_text(sqlite3_stmt *st, int i, char *why, size_t whylen)
{
	int type = sqlite3_column_type(st, i);
	const char *t;

	if (type != SQLITE_TEXT) {
		gh_err(why, whylen, "%s is %s, not text", column_names[i], type_name(type));
		return NULL;
	}
	if ((t = (const char *)sqlite3_column_text(st, i)) == NULL) {
		gh_err(why, whylen, "%s cannot be read: %s", column_names[i],
		       sqlite3_errmsg(sqlite3_db_handle(st)));
		return NULL;
	}
	if (strlen(t) != (size_t)sqlite3_column_bytes(st, i)) {
		gh_err(why, whylen, "%s holds a NUL byte", column_names[i]);
		return NULL;
	}
	return t;
}

/* Column i of the row st is on into *out, when it is an integer from min to
 * max. Returns 0, or -1 with why filled. */
static int
column_int(sqlite3_stmt *st, int i, sqlite3_int64 min, sqlite3_int64 max, sqlite3_int64 *out,
           char *why, size_t whylen)
{
	int type = sqlite3_column_type(st, i);

	if (type != SQLITE_INTEGER)
		return gh_err(why, whylen, "%s is %s, not an integer", column_names[i],
		              type_name(type));
	*out = sqlite3_column_int64(st, i);
	if (*out < min || *out > max)
		return gh_err(why, whylen, "%s is out of range: %lld", column_names[i],
		              (long long)*out);
	return 0;
}

/* The schedule of the row st is on, every column checked as a SCHEDULE's
 * arguments are; NULL with why filled if a column is bad. *key is the key
 * when it could be read (borrowed, valid until the next step), else NULL. */
static entry_t *
row_entry(sqlite3_stmt *st, const char **key, char *why, size_t whylen)
{
	const char *queue, *headers, *cron, *body;
	sqlite3_int64 interval, runs_left, next;
	cron_schedule_t cs;
	entry_t *e;

	if ((*key = column_text(st, COL_KEY, why, whylen)) == NULL ||
	    (queue = column_text(st, COL_QUEUE, why, whylen)) == NULL ||
	    (headers = column_text(st, COL_HEADERS, why, whylen)) == NULL ||
	    column_int(st, COL_INTERVAL, -1, INT32_MAX, &interval, why, whylen) != 0 ||
	    (cron = column_text(st, COL_CRON, why, whylen)) == NULL ||
	    (body = column_text(st, COL_BODY, why, whylen)) == NULL ||
	    column_int(st, COL_RUNS, -1, INT32_MAX, &runs_left, why, whylen) != 0 ||
	    column_int(st, COL_NEXT, INT64_MIN, INT64_MAX, &next, why, whylen) != 0)
		return NULL;
	if (runs_left == 0) {
		gh_err(why, whylen, "runs_left is 0");
		return NULL;
	}
	if (cron_schedule_check(gh_frame_str(queue), gh_frame_str(headers), (long)interval,
	                        gh_frame_str(cron), gh_frame_str(body), (time_t)next, &cs, why,
	                        whylen) != 0)
		return NULL;
	free(cs.key);
	e = gh_calloc(1, sizeof(*e));
	e->key = gh_strdup(*key);
	e->queue = gh_strdup(queue);
	e->headers = gh_strdup(headers);
	e->interval = (long)interval;
	e->cron = gh_strdup(cron);
	e->cr = cs.cron;
	e->body = gh_strdup(body);
	e->runs_left = (long)runs_left;
	e->next = (time_t)next;
	return e;
}

/* Loads every row that reads as a schedule. A bad row is skipped with a
 * warning and left in the file, for its operator to read; it is replaced by
 * a SCHEDULE of the same call and removed by an UNSCHEDULE of it. */
static int
load(sched_t *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT key, queue, headers, interval_s, cron, body, runs_left, "
	                       "next_run, rowid FROM schedule",
	                       -1, &st, NULL) != SQLITE_OK)
		return gh_err(err, errlen, "cannot read schedules: %s", sqlite3_errmsg(s->db));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long rowid = (long long)sqlite3_column_int64(st, COL_ROWID);
		char why[256], esc[256];
		const char *key;
		entry_t *e;

		if ((e = row_entry(st, &key, why, sizeof(why))) != NULL) {
			dict_set(s->entries, e->key, strlen(e->key), e);
			continue;
		}
		s->skipped++;
		if (key != NULL)
			log_warn("scheduler: skipping the stored schedule \"%s\" (row %lld): %s",
			         log_escape(key, strlen(key), esc, sizeof(esc)), rowid, why);
		else
			log_warn("scheduler: skipping the stored schedule at row %lld: %s", rowid,
			         why);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return gh_err(err, errlen, "cannot read schedules: %s", sqlite3_errmsg(s->db));
	return 0;
}

sched_t *
sched_open(const char *path, char *err, size_t errlen)
{
	sched_t *s = gh_calloc(1, sizeof(*s));

	s->entries = dict_new(entry_free);
	s->db = db_open(path, sched_migrations, sched_nmigrations, err, errlen);
	if (s->db == NULL)
		goto fail;
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT OR REPLACE INTO schedule (key, queue, headers, interval_s, "
	                       "cron, body, runs_left, next_run, created) VALUES (?1, ?2, ?3, ?4, "
	                       "?5, ?6, ?7, ?8, strftime('%s','now'))",
	                       -1, &s->put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM schedule WHERE key = ?1", -1, &s->del, NULL) !=
	        SQLITE_OK) {
		gh_err(err, errlen, "%s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (load(s, err, errlen) != 0)
		goto fail;
	return s;
fail:
	sched_destroy(&s);
	return NULL;
}

void
sched_destroy(sched_t **self_p)
{
	sched_t *s;

	if (self_p == NULL || (s = *self_p) == NULL)
		return;
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->del);
	sqlite3_close_v2(s->db);
	dict_destroy(&s->entries);
	free(s);
	*self_p = NULL;
}

/* Checks a SCHEDULE and, when it is good, returns its entry (not saved);
 * NULL with err otherwise. *h receives its headers. */
static entry_t *
make_entry(gh_frame_t queue, gh_frame_t headers, long interval, gh_frame_t cron, gh_frame_t body,
           time_t now, proto_headers_t *h, char *err, size_t errlen)
{
	cron_schedule_t cs;
	entry_t *e;

	if (cron_schedule_check(queue, headers, interval, cron, body, now, &cs, err, errlen) != 0)
		return NULL;
	e = gh_calloc(1, sizeof(*e));
	e->key = cs.key;
	e->interval = interval;
	e->cron = gh_strndup(cron.data, cron.size);
	e->cr = cs.cron;
	e->queue = gh_strndup(queue.data, queue.size);
	e->body = gh_strndup(body.data, body.size);
	e->runs_left = cs.hdr.run_count > 0 ? cs.hdr.run_count : -1;
	e->next = cs.first;
	*h = cs.hdr;
	return e;
}

int
sched_schedule(sched_t *s, gh_frame_t queue, gh_frame_t headers, long interval, gh_frame_t cron,
               gh_frame_t body, time_t now, char *err, size_t errlen)
{
	char hbuf[PROTO_HEADERS_FORMAT_SIZE];
	proto_headers_t h;
	entry_t *e;

	if ((e = make_entry(queue, headers, interval, cron, body, now, &h, err, errlen)) == NULL)
		return SCHED_EINVAL;
	if (!(h.flags & PROTO_H_NOHASTE))
		e->next = now;
	/* The REQUESTs it sends ask for the result, so failures reach the log;
	 * the scheduling headers stay here. */
	h.flags = (h.flags & ~(unsigned)PROTO_H_NOHASTE) | PROTO_H_REPLY_REQUESTED;
	h.run_count = -1;
	proto_headers_format(&h, hbuf, sizeof(hbuf));
	e->headers = gh_strdup(hbuf);
	if (save(s, e, err, errlen) != 0) {
		entry_free(e);
		return SCHED_ESTORE;
	}
	dict_set(s->entries, e->key, strlen(e->key), e);
	return 0;
}

int
sched_unschedule(sched_t *s, gh_frame_t body, char *err, size_t errlen)
{
	char *key = cron_call_key(body, err, errlen);
	int rc;

	if (key == NULL)
		return SCHED_EINVAL;
	/* The row goes too when it was not loaded (sched_skipped). */
	if ((rc = forget(s, key, err, errlen)) >= 0)
		rc = dict_del(s->entries, key, strlen(key)) || rc > 0;
	free(key);
	return rc >= 0 ? rc : SCHED_ESTORE;
}

size_t
sched_run_due(sched_t *s, time_t now, sched_fire_fn *fire, void *arg)
{
	dict_iter_t it;
	void *v;
	size_t fired = 0;

	dict_iter_init(s->entries, &it);
	while (dict_iter_next(&it, NULL, NULL, &v)) {
		entry_t *e = v;
		sched_job_t job;

		if (e->next > now)
			continue;
		if (e->runs_left > 0)
			e->runs_left--;
		job = (sched_job_t){e->key,      e->queue, e->headers,  e->body,
		                    e->interval, e->cron,  e->runs_left};
		fire(&job, arg);
		fired++;
		/* A write that fails leaves the database behind (wrote() has
		 * said so); the schedule goes on from memory. */
		if (e->runs_left == 0) {
			forget(s, e->key, NULL, 0);
			dict_iter_del(&it);
			continue;
		}
		/* Missed runs (the scheduler was down or disconnected) are not
		 * caught up in a burst: the next run is the next one from now. */
		e->next =
		    first_after(e, e->interval >= 0 && e->next + e->interval > now ? e->next : now);
		if (e->next == (time_t)-1) {
			forget(s, e->key, NULL, 0);
			dict_iter_del(&it);
			continue;
		}
		save(s, e, NULL, 0);
	}
	return fired;
}

size_t
sched_count(const sched_t *s)
{
	return dict_size(s->entries);
}

int
sched_writable(const sched_t *s)
{
	return !s->unwritable;
}

size_t
sched_skipped(const sched_t *s)
{
	return s->skipped;
}
