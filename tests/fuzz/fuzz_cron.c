/*
 * fuzz_cron: libFuzzer target for cron expressions (cron_parse) and their
 * next run (cron_next), in FUZZ_TZ from FUZZ_NOW (input.h).
 *
 * The input proper (input.h) is the expression (up to a NUL, as the
 * scheduler keeps it). It either parses, to the same fields every time and
 * only to values in range, or is refused with a message. Its next run is
 * none, or a whole minute after now and within eight years that matches
 * every field (the day by Vixie cron's either-day rule), with no earlier
 * match in the two and a half hours after now, which hold the missing hour
 * of the change to summer time. A run found from just before that minute
 * is that minute, and one found from it is later. Tags: "# expect: ok" or
 * "# expect: bad", "# why:", "# next:".
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "fuzz.h"
#include "input.h"
#include "util.h"

const char *const fuzz_replay_inputs[] = {"tests/data/cron", NULL};

static void __attribute__((noreturn)) broken(const char *expr, const char *what)
{
	fprintf(stderr, "fuzz_cron: \"%s\": %s\n", expr, what);
	abort();
}

/* 1 if the minute starting at t matches c, read independently of cron_next. */
static int
matches(const cron_t *c, time_t t)
{
	struct tm tm;
	int dom, dow;

	localtime_r(&t, &tm);
	dom = (int)(c->dom >> tm.tm_mday) & 1;
	dow = (c->dow >> tm.tm_wday) & 1;
	return ((c->month >> (tm.tm_mon + 1)) & 1) && ((c->hour >> tm.tm_hour) & 1) &&
	       ((c->minute >> tm.tm_min) & 1) &&
	       (c->dom_any || c->dow_any ? dom && dow : dom || dow);
}

/* The properties of a parsed expression; returns its next run. */
static time_t
check_next(const char *expr, const cron_t *c)
{
	time_t t = cron_next(c, FUZZ_NOW), m, next;

	if ((c->minute >> 60) != 0 || (c->hour >> 24) != 0 || (c->dom & 1) != 0 ||
	    (c->month & 1) != 0 || (c->month >> 13) != 0 || (c->dow >> 7) != 0 || c->minute == 0 ||
	    c->hour == 0 || c->dom == 0 || c->month == 0 || c->dow == 0)
		broken(expr, "a field out of range or empty");
	if (t == (time_t)-1)
		return t;
	if (t <= FUZZ_NOW || t % 60 != 0 || t > FUZZ_NOW + 8 * 366 * 86400)
		broken(expr, "the next run is not a whole minute within eight years after now");
	if (!matches(c, t))
		broken(expr, "the next run does not match");
	for (m = FUZZ_NOW - FUZZ_NOW % 60 + 60; m < t && m < FUZZ_NOW + 150 * 60; m += 60)
		if (matches(c, m))
			broken(expr, "an earlier minute matches");
	if (cron_next(c, t - 1) != t)
		broken(expr, "the run found from a second before the next run is another");
	next = cron_next(c, t);
	if (next != (time_t)-1 && next <= t)
		broken(expr, "the run after the next run is not later");
	return t;
}

/* Parses the input; *t is the next run when it parses. Returns
 * cron_parse's result, with err. */
static int
check(const fuzz_input_t *in, time_t *t, char *err, size_t errlen)
{
	char *expr = gh_strndup((const char *)in->data, in->size);
	cron_t c, c2;
	int rc;

	fuzz_use_tz();
	err[0] = '\0';
	rc = cron_parse(expr, &c, err, errlen);
	if (rc == -1 && err[0] == '\0')
		broken(expr, "refused without a message");
	if (rc == 0) {
		if (cron_parse(expr, &c2, err, errlen) != 0 || !fuzz_cron_same(&c, &c2))
			broken(expr, "parsed twice to different fields");
		*t = check_next(expr, &c);
	}
	free(expr);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input_t in;
	char err[256];
	time_t t;

	fuzz_input_split(data, size, &in);
	check(&in, &t, err, sizeof(err));
	return 0;
}

int
fuzz_replay_check(const uint8_t *data, size_t size, char *fail, size_t faillen)
{
	fuzz_input_t in;
	char err[256];
	time_t t = (time_t)-1;
	int rc;

	fuzz_input_split(data, size, &in);
	rc = check(&in, &t, err, sizeof(err));
	return fuzz_input_check(&in, rc == 0 ? "ok" : "bad", rc == 0 ? "" : err, t, fail, faillen);
}
