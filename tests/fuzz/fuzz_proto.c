/*
 * fuzz_proto: libFuzzer target for every parser of the codec.
 *
 * The input is a protocol case as in tests/data (one frame per line, with
 * escapes; see tests/lib/frames.h), so the cases seed the fuzzer and the
 * replay reads them as they are. A message that decodes must encode back to
 * the same frames and decode to the same message; a rejected one must carry
 * an error code and a printable text. The same bytes also go through the
 * header and the INFORM queue-list parsers.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../lib/frames.h"
#include "fuzz.h"
#include "proto.h"

const char *const fuzz_replay_inputs[] = {"tests/data/valid", "tests/data/invalid", NULL};

static void
check_message(const uint8_t *data, size_t size)
{
	frames_t fc;
	char fail[512];

	if (frames_parse((const char *)data, size, &fc, fail, sizeof(fail)) == 0 &&
	    frames_check_codec(fc.f, fc.n, fail, sizeof(fail)) != 0) {
		fprintf(stderr, "fuzz_proto: %s\n", fail);
		abort();
	}
	frames_free(&fc);
}

static void
check_headers(const uint8_t *data, size_t size)
{
	proto_headers_t h, h2;
	char buf[PROTO_HEADERS_FORMAT_SIZE];
	size_t len;

	if (proto_headers_parse((const char *)data, size, &h, NULL) != 0)
		return;
	len = proto_headers_format(&h, buf, sizeof(buf));
	if (len >= sizeof(buf) || proto_headers_parse(buf, len, &h2, NULL) != 0)
		abort();
	if (h.flags != h2.flags || h.retry_count != h2.retry_count || h.timeout != h2.timeout ||
	    h.ttl != h2.ttl || h.run_count != h2.run_count)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	proto_queue_t queues[PROTO_MAX_INFORM_QUEUES];
	gh_frame_t f = {(const char *)data, size};
	size_t nq;

	check_message(data, size);
	check_headers(data, size);
	proto_parse_queues(f, queues, GH_ARRAY_LEN(queues), &nq, NULL);
	return 0;
}

int
fuzz_replay_check(const uint8_t *data, size_t size, char *fail, size_t faillen)
{
	frames_t fc;
	int rc;

	rc = frames_parse((const char *)data, size, &fc, fail, faillen);
	if (rc == 0)
		rc = frames_check_case(&fc, fail, faillen);
	frames_free(&fc);
	return rc;
}
