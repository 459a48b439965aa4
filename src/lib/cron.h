/*
 * cron.h: schedules as the router and the scheduler both read them.
 * Five-field cron expressions (minute hour day-of-month month day-of-week)
 * with lists, ranges, steps, month and day names, and the @yearly @annually
 * @monthly @weekly @daily @midnight @hourly shorthands; the identity of a
 * scheduled call; and the check of a SCHEDULE's arguments, so that the
 * router refuses what the scheduler would. No sockets, no database; the
 * clock is passed in.
 */
#ifndef GEARHORN_CRON_H
#define GEARHORN_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "proto.h"
#include "util.h"

typedef struct {
	uint64_t minute; /* bit n: minute n matches */
	uint32_t hour;
	uint32_t dom;         /* bits 1..31 */
	uint16_t month;       /* bits 1..12 */
	uint8_t dow;          /* bits 0..6, Sunday = 0 (7 is read as 0) */
	int dom_any, dow_any; /* the field was "*" (for the either-day rule) */
} cron_t;

/* Parses expr into c. Returns 0, or -1 with a message in err naming the
 * field and the problem. */
int cron_parse(const char *expr, cron_t *c, char *err, size_t errlen);

/* The first whole minute strictly after `after` that matches, in local time
 * (TZ); (time_t)-1 if none comes within eight years (e.g. "0 0 30 2 *").
 * As in Vixie cron, when both day fields are restricted a day matches if
 * either does. */
time_t cron_next(const cron_t *c, time_t after);

/* The first run of a schedule strictly after `after`: after + interval for
 * an interval schedule (interval >= 0), cron_next(c, after) for a cron one
 * (interval -1; c is borrowed and only read then). */
time_t cron_schedule_next(long interval, const cron_t *c, time_t after);

/* The identity of the call in a job body (EventMQ's ["run", {...}] JSON),
 * as EventMQ computes it: the compact JSON, keys sorted, of its args,
 * kwargs, class_args, class_kwargs, path and callable (null when absent).
 * body is borrowed. Returns the key (caller owns it, free() it), or NULL
 * with a message in err if body is not such JSON. */
char *cron_call_key(gh_frame_t body, char *err, size_t errlen);

/* A SCHEDULE's arguments once checked (cron_schedule_check). */
typedef struct {
	char *key;           /* cron_call_key of the body; caller owns it */
	proto_headers_t hdr; /* the headers, parsed */
	cron_t cron;         /* the expression, parsed, when the interval is -1 */
	time_t first;        /* the first run after now (cron_schedule_next) */
} cron_schedule_t;

/* Checks a SCHEDULE's arguments as the scheduler takes them, in this order:
 * the queue is a valid name (proto_valid_name); the headers parse and have
 * no run_count:0; the interval is >= 1, or -1 with a cron expression; the
 * body is ["run", {...}] JSON; the cron expression parses and matches within
 * eight years after now. All frames are borrowed. Returns 0, or -1 with a
 * message in err. On success out (may be NULL: check only) is filled and
 * the caller owns out->key; on failure out is untouched. */
int cron_schedule_check(gh_frame_t queue, gh_frame_t headers, long interval, gh_frame_t cron,
                        gh_frame_t body, time_t now, cron_schedule_t *out, char *err,
                        size_t errlen);

#endif
