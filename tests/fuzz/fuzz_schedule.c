/*
 * fuzz_schedule: libFuzzer target for the check of a SCHEDULE's arguments
 * (cron_schedule_check), as the router makes it on a message from a client
 * and the scheduler on one it stores, at FUZZ_NOW in FUZZ_TZ (input.h).
 *
 * The input proper (input.h) is the argument frames in the format of the
 * protocol cases (tests/lib/frames.h: one frame per line, with escapes):
 * queue, headers, interval, body, cron. They follow the delimiter, the
 * version, SCHEDULE and a msgid, and the message goes through the codec
 * first, as it does in the router. A schedule the codec takes is either
 * taken, the same with or without its parts wanted, or refused with a
 * message. One taken has the call key of its body, headers as the codec
 * read them with run_count not 0, and a first run after now: now plus the
 * interval, or the cron expression's next run. Tags: "# expect: ok",
 * "# expect: bad-schedule" or the codec's error token, "# why:" and
 * "# next:".
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/frames.h"
#include "cron.h"
#include "fuzz.h"
#include "input.h"
#include "proto.h"

const char *const fuzz_replay_inputs[] = {"tests/data/schedule", NULL};

static void __attribute__((noreturn)) broken(const char *what)
{
	fprintf(stderr, "fuzz_schedule: %s\n", what);
	abort();
}

/* The properties of a schedule taken. */
static void
check_taken(const proto_msg_t *m, const cron_schedule_t *cs)
{
	char err[256], *key = cron_call_key(m->body, err, sizeof(err));
	cron_t c;
	char *expr;

	if (cs->key == NULL || key == NULL || strcmp(cs->key, key) != 0)
		broken("the key is not the body's call key");
	free(key);
	if (cs->hdr.flags != m->hdr.flags || cs->hdr.retry_count != m->hdr.retry_count ||
	    cs->hdr.timeout != m->hdr.timeout || cs->hdr.ttl != m->hdr.ttl ||
	    cs->hdr.run_count != m->hdr.run_count || cs->hdr.run_count == 0)
		broken("the headers are not the codec's, or run_count is 0");
	if (cs->first <= FUZZ_NOW)
		broken("the first run is not after now");
	if (m->interval_secs > 0 && cs->first != FUZZ_NOW + m->interval_secs)
		broken("the first run is not now plus the interval");
	if (m->interval_secs < 0) {
		expr = gh_strndup(m->cron.data, m->cron.size);
		if (cron_parse(expr, &c, err, sizeof(err)) != 0 || !fuzz_cron_same(&c, &cs->cron) ||
		    cron_next(&c, FUZZ_NOW) != cs->first)
			broken("the cron or the first run is not the expression's");
		free(expr);
	}
}

/* Decodes and checks the input; returns its outcome (static) with msg,
 * and *first, the first run of one taken; NULL when the input is not a
 * list of frames (why filled). */
static const char *
check(const fuzz_input_t *in, char *msg, size_t msglen, time_t *first, char *why, size_t whylen)
{
	gh_frame_t f[4 + FRAMES_MAX] = {{"", 0},
	                                {"eMQP/1.0", 8},
	                                {"SCHEDULE", 8},
	                                {"7c9e6679-7425-40de-944b-e07fc1f90ae7", 36}};
	const char *outcome;
	cron_schedule_t cs;
	proto_err_t perr;
	proto_msg_t m;
	frames_t fc;
	char err2[256];
	int rc;

	fuzz_use_tz();
	if (frames_parse((const char *)in->data, in->size, &fc, why, whylen) != 0) {
		frames_free(&fc);
		return NULL;
	}
	memcpy(f + 4, fc.f, fc.n * sizeof(fc.f[0]));
	if (proto_decode(f, 4 + fc.n, &m, &perr) != 0) {
		snprintf(msg, msglen, "%s", perr.text);
		frames_free(&fc);
		return proto_error_name(perr.code);
	}
	msg[0] = err2[0] = '\0';
	rc = cron_schedule_check(m.queue, m.headers, m.interval_secs, m.cron, m.body, FUZZ_NOW, &cs,
	                         msg, msglen);
	if (cron_schedule_check(m.queue, m.headers, m.interval_secs, m.cron, m.body, FUZZ_NOW, NULL,
	                        err2, sizeof(err2)) != rc ||
	    strncmp(msg, err2, sizeof(err2) - 1) != 0)
		broken("the check differs when the result is not wanted");
	if (rc == 0) {
		check_taken(&m, &cs);
		*first = cs.first;
		free(cs.key);
		outcome = "ok";
	} else if (rc == -1 && msg[0] != '\0') {
		outcome = "bad-schedule";
	} else {
		broken("refused without a message");
	}
	frames_free(&fc);
	return outcome;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input_t in;
	char msg[256], why[256];
	time_t first;

	fuzz_input_split(data, size, &in);
	check(&in, msg, sizeof(msg), &first, why, sizeof(why));
	return 0;
}

int
fuzz_replay_check(const uint8_t *data, size_t size, char *fail, size_t faillen)
{
	fuzz_input_t in;
	char msg[256];
	time_t first = (time_t)-1;
	const char *outcome;

	fuzz_input_split(data, size, &in);
	if ((outcome = check(&in, msg, sizeof(msg), &first, fail, faillen)) == NULL)
		return -1;
	return fuzz_input_check(&in, outcome, msg, first, fail, faillen);
}
