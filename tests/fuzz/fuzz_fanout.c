/*
 * fuzz_fanout: libFuzzer target for the fanout worker's reading of a
 * workload (fanout_check_workload: what fanout_handle reads before it
 * touches the store or gearmand).
 *
 * The input proper (input.h) is the gearman function's name on its first
 * line, then the workload, byte for byte. Every workload is read as each of
 * the four functions: a refusal always says why; register_fanout_subscriber
 * takes exactly what subscribe_fanout takes, and unsubscribe_fanout takes
 * all that they take. Tags: "# expect: ok" or "# expect: refused" for the
 * named function, and "# why:".
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "input.h"
#include "util.h"
#include "worker.h"

const char *const fuzz_replay_inputs[] = {"tests/data/fanout", NULL};

/* Reads the workload as fn; aborts when a refusal has no message. */
static int
check_as(const char *fn, const uint8_t *work, size_t len, char *msg, size_t msglen)
{
	int rc;

	msg[0] = '\0';
	rc = fanout_check_workload(fn, work, len, msg, msglen);
	if ((rc != 0 && rc != -1) || (rc == -1) != (msg[0] != '\0')) {
		fprintf(stderr, "fuzz_fanout: %s: %d \"%s\"\n", fn, rc, msg);
		abort();
	}
	return rc;
}

/* Reads the input's workload as its named function and as the four;
 * returns what the named one does, with msg. */
static int
check(const fuzz_input_t *in, char *msg, size_t msglen)
{
	const uint8_t *nl = memchr(in->data, '\n', in->size);
	size_t namelen = nl != NULL ? (size_t)(nl - in->data) : in->size;
	const uint8_t *work = in->data + (nl != NULL ? namelen + 1 : namelen);
	size_t len = in->size - (size_t)(work - in->data);
	char *fn = gh_strndup((const char *)in->data, namelen), m[1024];
	int sub, rc;

	sub = check_as("subscribe_fanout", work, len, m, sizeof(m));
	if (check_as("register_fanout_subscriber", work, len, m, sizeof(m)) != sub ||
	    (sub == 0 && check_as("unsubscribe_fanout", work, len, m, sizeof(m)) != 0)) {
		fprintf(stderr, "fuzz_fanout: subscribe, register and unsubscribe disagree\n");
		abort();
	}
	check_as("fanout", work, len, m, sizeof(m));
	rc = check_as(fn, work, len, msg, msglen);
	free(fn);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_input_t in;
	char msg[1024];

	fuzz_input_split(data, size, &in);
	check(&in, msg, sizeof(msg));
	return 0;
}

int
fuzz_replay_check(const uint8_t *data, size_t size, char *fail, size_t faillen)
{
	fuzz_input_t in;
	char msg[1024];
	int rc;

	fuzz_input_split(data, size, &in);
	rc = check(&in, msg, sizeof(msg));
	return fuzz_input_check(&in, rc == 0 ? "ok" : "refused", msg, (time_t)-1, fail, faillen);
}
