/*
 * fuzz_jobbody: libFuzzer target for the job manager's reading of a job
 * body, EventMQ's ["run", {...}] or gearhorn's ["exec", {...}]
 * (handler_check_job: what handler_run reads before it runs anything).
 *
 * The input proper (input.h) is the body. It is either taken, with an empty
 * text, or refused as a bad job with a message; a body the job manager
 * takes also has the identity the router and the scheduler give a
 * scheduled call (cron_call_key). Tags: "# expect: ok" or "# expect:
 * bad-job", and "# why:".
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "fuzz.h"
#include "handler.h"
#include "input.h"

const char *const fuzz_replay_inputs[] = {"tests/data/jobbody", NULL};

/* Reads the body; aborts when the result breaks handler_check_job's
 * contract. Caller owns *text. */
static handler_status_t
check_body(const fuzz_input_t *in, char **text)
{
	handler_status_t st;
	size_t textlen = (size_t)-1;

	*text = NULL;
	st = handler_check_job((const char *)in->data, in->size, text, &textlen);
	if (*text == NULL || strlen(*text) != textlen)
		abort();
	if (!(st == HANDLER_OK && textlen == 0) && !(st == HANDLER_BAD_JOB && textlen > 0))
		abort();
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input_t in;
	char *text, err[256];

	fuzz_input_split(data, size, &in);
	if (check_body(&in, &text) == HANDLER_OK) {
		gh_frame_t body = {(const char *)in.data, in.size};
		char *key = cron_call_key(body, err, sizeof(err));

		if (key == NULL) {
			fprintf(stderr, "fuzz_jobbody: a job taken has no call key: %s\n", err);
			abort();
		}
		free(key);
	}
	free(text);
	return 0;
}

int
fuzz_replay_check(const uint8_t *data, size_t size, char *fail, size_t faillen)
{
	fuzz_input_t in;
	handler_status_t st;
	char *text;
	int rc;

	fuzz_input_split(data, size, &in);
	st = check_body(&in, &text);
	rc = fuzz_input_check(&in, st == HANDLER_OK ? "ok" : "bad-job", text, (time_t)-1, fail,
	                      faillen);
	free(text);
	return rc;
}
