/*
 * input.h: the inputs of the fuzz targets that read a body, a workload, a
 * cron expression or SCHEDULE arguments. An input may begin with comment
 * lines (each begins with '#'); the input proper is all that follows them,
 * byte for byte. A comment line "# NAME: VALUE" is a tag the replay checks:
 *
 *   # expect: WORD    the outcome: "ok", or the target's word for a refusal
 *   # why: TEXT       a part of the refusal's message (optional)
 *   # next: WHEN      when it first runs, "YYYY-MM-DD HH:MM" in FUZZ_TZ after
 *                     FUZZ_NOW, or "never" (cron and schedule, optional)
 *
 * The fuzzer mutates the comment lines too; a target ignores them.
 */
#ifndef GEARHORN_TESTS_FUZZ_INPUT_H
#define GEARHORN_TESTS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cron.h"

/* The clock of the targets that compute runs: 2024-03-30 23:30 UTC, an
 * hour and a half before Central European summer time begins, so that
 * runs fall on both sides of a missing hour. FUZZ_TZ is a POSIX TZ rule,
 * which needs no time zone database. */
#define FUZZ_NOW ((time_t)1711841400)
#define FUZZ_TZ  "CET-1CEST,M3.5.0,M10.5.0/3"

typedef struct {
	const uint8_t *data; /* the input proper (borrowed from the input) */
	size_t size;
	const char *comments; /* the comment lines (borrowed), commentlen bytes */
	size_t commentlen;
} fuzz_input_t;

/* Splits the size bytes at data (borrowed; in keeps pointers into them)
 * into the comment lines and the input proper. */
void fuzz_input_split(const uint8_t *data, size_t size, fuzz_input_t *in);

/* Copies the value of the tag "# NAME: VALUE" of in (the first one, without
 * the spaces around it) into buf (buflen bytes, NUL-terminated, truncated).
 * Returns buf, or NULL when in has no such tag. */
const char *fuzz_input_tag(const fuzz_input_t *in, const char *name, char *buf, size_t buflen);

/* Checks an outcome against the tags of in: got (borrowed) must be the
 * "# expect:" word, which every input the replay reads must have; msg
 * (borrowed, the refusal's message or "") must contain the "# why:" text
 * when there is one; and when got is "ok", first (the first run, or
 * (time_t)-1 for none) must be the "# next:" time when there is one.
 * Returns 0, or -1 with fail filled. */
int fuzz_input_check(const fuzz_input_t *in, const char *got, const char *msg, time_t first,
                     char *fail, size_t faillen);

/* 1 if a and b (borrowed) have the same fields. */
int fuzz_cron_same(const cron_t *a, const cron_t *b);

/* Sets the process's time zone to FUZZ_TZ (the first call does; later ones
 * do nothing). */
void fuzz_use_tz(void);

#endif
