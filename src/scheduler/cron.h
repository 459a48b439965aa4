/*
 * cron.h: five-field cron expressions (minute hour day-of-month month
 * day-of-week) with lists, ranges, steps, month and day names, and the
 * @yearly @annually @monthly @weekly @daily @midnight @hourly shorthands.
 */
#ifndef GEARHORN_CRON_H
#define GEARHORN_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

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

#endif
