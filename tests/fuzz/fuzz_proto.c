/*
 * fuzz_proto: libFuzzer target for every parser of the codec.
 *
 * The input is split into frames at each 0xfe 0xfd pair. A message that
 * decodes must encode back to the same frames; a rejected one must carry a
 * printable error text. The same bytes also go through the header and the
 * INFORM queue-list parsers.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_message(const uint8_t *data, size_t size)
{
	gh_frame_t in[32], out[32];
	size_t n = 0, start = 0, i;
	proto_msg_t msg;
	proto_err_t err;
	int k;

	for (i = 0; i + 1 < size && n < 31; i++) {
		if (data[i] == 0xfe && data[i + 1] == 0xfd) {
			in[n].data = (const char *)data + start;
			in[n++].size = i - start;
			start = i + 2;
			i++;
		}
	}
	in[n].data = (const char *)data + start;
	in[n++].size = size - start;

	if (proto_decode(in, n, &msg, &err) != 0) {
		if (strlen(err.text) == 0 || err.code == PROTO_OK)
			__builtin_trap();
		return;
	}
	if (msg.cmd == PROTO_HELLO) /* HELLO keeps only its first arguments */
		return;
	k = proto_encode(&msg, out, GH_ARRAY_LEN(out), &err);
	if (k < 0 || (size_t)k != n)
		__builtin_trap();
	for (i = 0; i < n; i++)
		if (out[i].size != in[i].size ||
		    (in[i].size > 0 && memcmp(out[i].data, in[i].data, in[i].size) != 0))
			__builtin_trap();
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
		__builtin_trap();
	if (h.flags != h2.flags || h.retry_count != h2.retry_count || h.timeout != h2.timeout ||
	    h.ttl != h2.ttl || h.run_count != h2.run_count)
		__builtin_trap();
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
