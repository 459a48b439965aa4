/*
 * schedule.h: the scheduler's table of schedules, kept in SQLite so that it
 * survives a restart. No sockets: the daemon feeds it SCHEDULE and
 * UNSCHEDULE arguments and the time, and it calls back for each job due.
 */
#ifndef GEARHORN_SCHEDULE_H
#define GEARHORN_SCHEDULE_H

#include <stddef.h>
#include <time.h>

#include "util.h"

typedef struct sched sched_t;

/* One schedule, as the fire callback sees it. Borrowed, valid during the
 * call. */
typedef struct {
	const char *key;     /* canonical JSON of the call: its identity */
	const char *queue;   /* where the REQUEST goes */
	const char *headers; /* headers for the REQUEST (scheduling ones removed) */
	const char *body;    /* the job JSON, as the client sent it */
	long interval;       /* seconds, or -1 for cron */
	const char *cron;    /* "" for interval schedules */
	long runs_left;      /* after this run; -1: unlimited */
} sched_job_t;

typedef void(sched_fire_fn)(const sched_job_t *job, void *arg);

/* Opens or creates the database at path and loads its schedules; a row
 * that is not a schedule is skipped (sched_skipped). Returns NULL with a
 * message in err if the database cannot be opened or read. Caller owns the
 * result. */
sched_t *sched_open(const char *path, char *err, size_t errlen);
/* Accepts NULL and clears *self_p. */
void sched_destroy(sched_t **self_p);

/* The refusals of sched_schedule and sched_unschedule. */
#define SCHED_EINVAL (-1) /* bad arguments */
#define SCHED_ESTORE (-2) /* the database could not be written: nothing changed */

/* Adds or replaces the schedule of the call in body (EventMQ's ["run",
 * {...}] JSON). interval >= 1 for an interval schedule, or -1 with a cron
 * expression. The arguments are checked by cron_schedule_check (cron.h).
 * Headers nohaste and run_count:N are honoured: without nohaste the job is
 * due at once. Returns 0 once the schedule is in the database, or
 * SCHED_EINVAL or SCHED_ESTORE with a message in err; after SCHED_ESTORE a
 * schedule of the same call that was there is kept, as the database holds
 * it. */
int sched_schedule(sched_t *s, gh_frame_t queue, gh_frame_t headers, long interval, gh_frame_t cron,
                   gh_frame_t body, time_t now, char *err, size_t errlen);

/* Removes the schedule of the call in body, interval or cron alike.
 * Returns 1 if there was one, 0 if not, or SCHED_EINVAL or SCHED_ESTORE
 * with a message in err; after SCHED_ESTORE the schedule is kept and goes
 * on running, as the database holds it. */
int sched_unschedule(sched_t *s, gh_frame_t body, char *err, size_t errlen);

/* Calls fire for every schedule due at now, then moves it on (or removes it
 * when its run count is spent) and saves that. A save that fails does not
 * stop the schedule: it runs on from memory (after a restart, from what the
 * database holds). Returns how many fired. */
size_t sched_run_due(sched_t *s, time_t now, sched_fire_fn *fire, void *arg);

/* The schedules held. */
size_t sched_count(const sched_t *s);

/* 0 while the last write to the database failed (a full disk, say), else
 * 1. The first failure is logged as an error, the recovery as a notice. */
int sched_writable(const sched_t *s);

/* The rows of the database that sched_open could not read as schedules (a
 * NULL or a value of the wrong type or range in a column, as a damaged file
 * may hold): each was logged with its key and row and skipped, and stays in
 * the file. */
size_t sched_skipped(const sched_t *s);

#endif
