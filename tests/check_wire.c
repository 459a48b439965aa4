/*
 * check_wire: whole multipart messages between DEALER and ROUTER sockets
 * over inproc and loopback TCP, and the socket helper.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "util.h"
#include "wire.h"
#include "lib/check_main.h"

#define HWM 100

static void *ctx;
/* Every socket a test opens, closed by teardown even when the test failed
 * half-way (zmq_ctx_term would wait for them forever). */
static void *socks[16];

static void
setup(void)
{
	ctx = zmq_ctx_new();
	ck_assert_ptr_nonnull(ctx);
	memset(socks, 0, sizeof(socks));
}

static void
teardown(void)
{
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(socks); i++)
		if (socks[i] != NULL)
			zmq_close(socks[i]);
	ck_assert_int_eq(zmq_ctx_term(ctx), 0);
	ctx = NULL;
}

static void *
track(void *s)
{
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(socks); i++) {
		if (socks[i] == NULL) {
			socks[i] = s;
			return s;
		}
	}
	ck_abort_msg("too many sockets");
	return NULL;
}

static void
drop(void *s)
{
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(socks); i++)
		if (socks[i] == s)
			socks[i] = NULL;
	zmq_close(s);
}

static void *
router(const char *endpoint)
{
	char err[256];
	void *s = wire_socket(ctx, ZMQ_ROUTER, endpoint, 1, HWM, err, sizeof(err));

	ck_assert_msg(s != NULL, "%s", err);
	return track(s);
}

/* A DEALER with a known routing id; connect() needs it set first. */
static void *
dealer(const char *id, const char *endpoint)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int zero = 0;

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)), 0);
	ck_assert_int_eq(zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id)), 0);
	ck_assert_int_eq(zmq_connect(s, endpoint), 0);
	return track(s);
}

static gh_frame_t
fr(const char *data, size_t size)
{
	gh_frame_t f = {data, size};

	return f;
}

static gh_frame_t
str(const char *s)
{
	return fr(s, strlen(s));
}

static void
assert_frame(const wire_msg_t *m, size_t i, const char *data, size_t size)
{
	gh_frame_t f;

	ck_assert_uint_eq(wire_frames(m, i, &f, 1), 1);
	ck_assert_uint_eq(f.size, size);
	ck_assert_int_eq(memcmp(f.data, data, size), 0);
}

static void
assert_str_frame(const wire_msg_t *m, size_t i, const char *s)
{
	assert_frame(m, i, s, strlen(s));
}

static const char binary[] = {'a', '\0', 'b', '\0', (char)0xff};

START_TEST(test_round_trip_inproc)
{
	void *r = router("inproc://rt");
	void *d = dealer("dealer-1", "inproc://rt");
	gh_frame_t out[4] = {fr("", 0), str("abc"), fr(binary, sizeof(binary)), fr(NULL, 0)};
	gh_frame_t in[8];
	wire_msg_t m;
	size_t i;

	ck_assert_int_eq(wire_send(d, NULL, 0, out, 4, 0), 0);
	ck_assert_int_eq(wire_recv(r, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 5);
	ck_assert_uint_eq(m.bytes, 8 + 0 + 3 + 5 + 0);
	ck_assert_int_eq(m.truncated, 0);
	ck_assert_int_eq(m.oversized, 0);
	/* The ROUTER puts the sender's routing id first. */
	assert_str_frame(&m, 0, "dealer-1");
	assert_frame(&m, 1, "", 0);
	assert_str_frame(&m, 2, "abc");
	assert_frame(&m, 3, binary, sizeof(binary));
	assert_frame(&m, 4, "", 0);
	ck_assert_uint_eq(wire_frames(&m, 1, in, 2), 2);
	ck_assert_uint_eq(wire_frames(&m, 5, in, 8), 0);
	ck_assert_uint_eq(wire_frames(&m, 9, in, 8), 0);

	/* Reply through the identity: the DEALER gets the frames alone. */
	ck_assert_uint_eq(wire_frames(&m, 0, in, 8), 5);
	ck_assert_int_eq(wire_send(r, in[0].data, in[0].size, in + 1, 4, ZMQ_DONTWAIT), 0);
	wire_msg_close(&m);
	ck_assert_uint_eq(m.n, 0);
	wire_msg_close(&m);

	ck_assert_int_eq(wire_recv(d, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 4);
	for (i = 0; i < 4; i++)
		assert_frame(&m, i, out[i].size ? out[i].data : "", out[i].size);
	wire_msg_close(&m);
}
END_TEST

START_TEST(test_round_trip_tcp)
{
	char endpoint[256], err[256];
	size_t len = sizeof(endpoint);
	void *r = router("tcp://127.0.0.1:*");
	void *d;
	gh_frame_t f = str("hello"), id;
	wire_msg_t m;
	int linger = -1, hwm = -1;
	size_t optlen;

	ck_assert_int_eq(zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, endpoint, &len), 0);
	d = track(wire_socket(ctx, ZMQ_DEALER, endpoint, 0, HWM, err, sizeof(err)));
	ck_assert_msg(d != NULL, "%s", err);
	optlen = sizeof(int);
	ck_assert_int_eq(zmq_getsockopt(d, ZMQ_LINGER, &linger, &optlen), 0);
	ck_assert_int_eq(linger, 0);
	ck_assert_int_eq(zmq_getsockopt(d, ZMQ_SNDHWM, &hwm, &optlen), 0);
	ck_assert_int_eq(hwm, HWM);
	ck_assert_int_eq(zmq_getsockopt(d, ZMQ_RCVHWM, &hwm, &optlen), 0);
	ck_assert_int_eq(hwm, HWM);

	ck_assert_int_eq(wire_send(d, NULL, 0, &f, 1, 0), 0);
	ck_assert_int_eq(wire_recv(r, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 2);
	assert_str_frame(&m, 1, "hello");
	ck_assert_uint_eq(wire_frames(&m, 0, &id, 1), 1);
	ck_assert_uint_gt(id.size, 0);
	f = str("world");
	ck_assert_int_eq(wire_send(r, id.data, id.size, &f, 1, 0), 0);
	wire_msg_close(&m);
	ck_assert_int_eq(wire_recv(d, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 1);
	assert_str_frame(&m, 0, "world");
	wire_msg_close(&m);
}
END_TEST

START_TEST(test_endpoint_list)
{
	void *r = router(" inproc://list-a , inproc://list-b,");
	void *d = dealer("d", "inproc://list-b");
	gh_frame_t f = str("via b");
	wire_msg_t m;

	ck_assert_int_eq(wire_send(d, NULL, 0, &f, 1, 0), 0);
	ck_assert_int_eq(wire_recv(r, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 2);
	assert_str_frame(&m, 1, "via b");
	wire_msg_close(&m);
	drop(d);
	d = dealer("d2", "inproc://list-a");
	ck_assert_int_eq(wire_send(d, NULL, 0, &f, 1, 0), 0);
	ck_assert_int_eq(wire_recv(r, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 2);
	wire_msg_close(&m);
}
END_TEST

START_TEST(test_truncated)
{
	void *r = router("inproc://trunc");
	void *d = dealer("d1", "inproc://trunc");
	char names[40][4];
	gh_frame_t out[40];
	wire_msg_t m;
	size_t i;

	for (i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "f%02zu", i);
		out[i] = fr(names[i], 3);
	}
	ck_assert_int_eq(wire_send(d, NULL, 0, out, 40, 0), 0);
	out[0] = str("next");
	out[1] = str("msg");
	ck_assert_int_eq(wire_send(d, NULL, 0, out, 2, 0), 0);

	ck_assert_int_eq(wire_recv(r, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, WIRE_MAX_FRAMES);
	ck_assert_int_eq(m.truncated, 1);
	ck_assert_int_eq(m.oversized, 0);
	ck_assert_uint_eq(m.bytes, 2 + 40 * 3);
	assert_str_frame(&m, 0, "d1");
	for (i = 1; i < WIRE_MAX_FRAMES; i++)
		assert_str_frame(&m, i, names[i - 1]);
	wire_msg_close(&m);

	/* The rest of the long message was consumed: the next one is whole. */
	ck_assert_int_eq(wire_recv(r, &m, 0, ZMQ_DONTWAIT), 0);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_int_eq(m.truncated, 0);
	assert_str_frame(&m, 0, "d1");
	assert_str_frame(&m, 1, "next");
	assert_str_frame(&m, 2, "msg");
	wire_msg_close(&m);
	ck_assert_int_eq(wire_recv(r, &m, 0, ZMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
}
END_TEST

START_TEST(test_oversized)
{
	void *r = router("inproc://big");
	void *d = dealer("d1", "inproc://big");
	char big[300], ten[10];
	gh_frame_t out[40];
	wire_msg_t m;
	size_t i;

	memset(big, 'b', sizeof(big));
	memset(ten, 't', sizeof(ten));
	out[0] = fr(ten, sizeof(ten));
	out[1] = fr(big, sizeof(big));
	out[2] = str("ccccc");
	ck_assert_int_eq(wire_send(d, NULL, 0, out, 3, 0), 0);
	out[0] = str("ok");
	ck_assert_int_eq(wire_send(d, NULL, 0, out, 1, 0), 0);

	/* 2 + 10 fit in 100 bytes; the 300-byte frame is kept empty and the
	 * small one after it is kept, in their places. */
	ck_assert_int_eq(wire_recv(r, &m, 100, 0), 0);
	ck_assert_int_eq(m.oversized, 1);
	ck_assert_int_eq(m.truncated, 0);
	ck_assert_uint_eq(m.n, 4);
	ck_assert_uint_eq(m.bytes, 2 + 10 + 300 + 5);
	assert_frame(&m, 1, ten, sizeof(ten));
	assert_frame(&m, 2, "", 0);
	assert_str_frame(&m, 3, "ccccc");
	wire_msg_close(&m);

	ck_assert_int_eq(wire_recv(r, &m, 100, 0), 0);
	ck_assert_int_eq(m.oversized, 0);
	ck_assert_uint_eq(m.n, 2);
	assert_str_frame(&m, 1, "ok");
	wire_msg_close(&m);

	/* Past the limit, a frame larger than WIRE_SMALL_FRAME is emptied even
	 * if it is not the one that crossed it. */
	{
		char mid[WIRE_SMALL_FRAME + 1];
		memset(mid, 'm', sizeof(mid));
		out[0] = fr(big, sizeof(big));
		out[1] = fr(mid, sizeof(mid));
		out[2] = fr(mid, WIRE_SMALL_FRAME);
		ck_assert_int_eq(wire_send(d, NULL, 0, out, 3, 0), 0);
		ck_assert_int_eq(wire_recv(r, &m, 100, 0), 0);
		ck_assert_int_eq(m.oversized, 1);
		ck_assert_uint_eq(m.n, 4);
		assert_frame(&m, 1, "", 0);
		assert_frame(&m, 2, "", 0);
		assert_frame(&m, 3, mid, WIRE_SMALL_FRAME);
		wire_msg_close(&m);
	}

	/* max_bytes 0 is no limit. */
	out[0] = fr(big, sizeof(big));
	out[1] = fr(big, sizeof(big));
	ck_assert_int_eq(wire_send(d, NULL, 0, out, 2, 0), 0);
	ck_assert_int_eq(wire_recv(r, &m, 0, 0), 0);
	ck_assert_int_eq(m.oversized, 0);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_uint_eq(m.bytes, 602);
	wire_msg_close(&m);

	/* Too many and too big at once: both flags. */
	for (i = 0; i < 40; i++)
		out[i] = fr(ten, sizeof(ten));
	ck_assert_int_eq(wire_send(d, NULL, 0, out, 40, 0), 0);
	ck_assert_int_eq(wire_recv(r, &m, 100, 0), 0);
	ck_assert_int_eq(m.oversized, 1);
	ck_assert_int_eq(m.truncated, 1);
	ck_assert_uint_eq(m.n, WIRE_MAX_FRAMES);
	ck_assert_uint_eq(m.bytes, 402);
	wire_msg_close(&m);
}
END_TEST

START_TEST(test_send_msg)
{
	void *r = router("inproc://msg");
	void *d = dealer("client", "inproc://msg");
	proto_msg_t msg;
	proto_err_t perr;
	wire_msg_t m;

	proto_msg_init(&msg, PROTO_READY, "m1");
	ck_assert_int_eq(wire_send_msg(d, NULL, 0, &msg, 0, &perr), 0);
	ck_assert_int_eq(perr.code, PROTO_OK);
	ck_assert_int_eq(wire_recv(r, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 5);
	assert_str_frame(&m, 0, "client");
	assert_str_frame(&m, 1, "");
	assert_str_frame(&m, 2, PROTO_VERSION);
	assert_str_frame(&m, 3, "READY");
	assert_str_frame(&m, 4, "m1");
	wire_msg_close(&m);

	/* A REQUEST without its queue cannot be encoded: refused, nothing sent. */
	proto_msg_init(&msg, PROTO_REQUEST, "m2");
	msg.body = str("[]");
	errno = 0;
	ck_assert_int_eq(wire_send_msg(d, NULL, 0, &msg, 0, &perr), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_ne(perr.code, PROTO_OK);
	ck_assert_str_ne(perr.text, "");
	ck_assert_int_eq(wire_send_msg(d, NULL, 0, &msg, 0, NULL), -1);
	ck_assert_int_eq(wire_recv(r, &m, 0, ZMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	wire_msg_close(&m);
}
END_TEST

START_TEST(test_eagain_when_empty)
{
	void *r = router("inproc://empty");
	wire_msg_t m;

	m.n = 7; /* whatever was there before, wire_recv initialises m */
	ck_assert_int_eq(wire_recv(r, &m, 0, ZMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_uint_eq(m.bytes, 0);
	wire_msg_close(&m);
}
END_TEST

START_TEST(test_unknown_peer)
{
	void *r = router("inproc://mandatory");
	void *d = dealer("known", "inproc://mandatory");
	gh_frame_t f = str("x");
	wire_msg_t m;

	ck_assert_int_eq(wire_send(r, "nobody", 6, &f, 1, ZMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EHOSTUNREACH);
	ck_assert_int_eq(wire_send(r, "nobody", 6, &f, 1, 0), -1);
	ck_assert_int_eq(errno, EHOSTUNREACH);
	ck_assert_int_eq(wire_send(r, "known", 5, &f, 0, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* Nothing half-sent is left behind: the next message is whole. */
	ck_assert_int_eq(wire_send(d, NULL, 0, &f, 1, 0), 0);
	ck_assert_int_eq(wire_recv(r, &m, 0, 0), 0);
	wire_msg_close(&m);
	ck_assert_int_eq(wire_send(r, "known", 5, &f, 1, 0), 0);
	ck_assert_int_eq(wire_recv(d, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 1);
	assert_str_frame(&m, 0, "x");
	wire_msg_close(&m);
}
END_TEST

/* With ROUTER_MANDATORY a full peer is EAGAIN, not a silent drop: every
 * send that returned 0 arrives whole and the one that failed sent nothing. */
START_TEST(test_hwm_eagain_is_all_or_nothing)
{
	char err[256];
	void *r = track(wire_socket(ctx, ZMQ_ROUTER, "inproc://hwm", 1, 2, err, sizeof(err)));
	void *d = track(zmq_socket(ctx, ZMQ_DEALER));
	gh_frame_t out[3] = {str("one"), str("two"), str("three")};
	int hwm = 2, sent = 0, got = 0;
	wire_msg_t m;

	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof(hwm)), 0);
	ck_assert_int_eq(zmq_setsockopt(d, ZMQ_ROUTING_ID, "slow", 4), 0);
	ck_assert_int_eq(zmq_connect(d, "inproc://hwm"), 0);
	/* Let the ROUTER learn the peer first. */
	ck_assert_int_eq(wire_send(d, NULL, 0, out, 1, 0), 0);
	ck_assert_int_eq(wire_recv(r, &m, 0, 0), 0);
	wire_msg_close(&m);
	while (sent < 10000 && wire_send(r, "slow", 4, out, 3, ZMQ_DONTWAIT) == 0)
		sent++;
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_gt(sent, 0);
	ck_assert_int_lt(sent, 10000);
	while (wire_recv(d, &m, 0, ZMQ_DONTWAIT) == 0) {
		ck_assert_uint_eq(m.n, 3);
		assert_str_frame(&m, 0, "one");
		assert_str_frame(&m, 2, "three");
		wire_msg_close(&m);
		got++;
	}
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(got, sent);
}
END_TEST

START_TEST(test_forward_zero_copy)
{
	void *front = router("inproc://front");
	void *back = router("inproc://back");
	void *client = dealer("client", "inproc://front");
	void *worker = dealer("w1", "inproc://back");
	gh_frame_t out[2], prefix = str("REQUEST");
	char big[1000];
	wire_msg_t m, w;
	const void *bytes;
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	/* The backend learns the worker's identity from its first message. */
	out[0] = str("READY");
	ck_assert_int_eq(wire_send(worker, NULL, 0, out, 1, 0), 0);
	ck_assert_int_eq(wire_recv(back, &w, 0, 0), 0);
	wire_msg_close(&w);

	out[0] = str("hdr");
	out[1] = fr(big, sizeof(big));
	ck_assert_int_eq(wire_send(client, NULL, 0, out, 2, 0), 0);
	ck_assert_int_eq(wire_recv(front, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 3);
	bytes = zmq_msg_data(&m.part[2]);

	ck_assert_int_eq(wire_forward(back, "w1", 2, &prefix, 1, &m, 4, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(wire_forward(back, "w1", 2, NULL, 0, &m, 3, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* A failed forward leaves m as it was, ready for another try. */
	ck_assert_int_eq(wire_forward(back, "w2", 2, &prefix, 1, &m, 1, ZMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EHOSTUNREACH);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_ptr_eq(zmq_msg_data(&m.part[2]), bytes);
	assert_frame(&m, 2, big, sizeof(big));

	ck_assert_int_eq(wire_forward(back, "w1", 2, &prefix, 1, &m, 1, ZMQ_DONTWAIT), 0);
	/* The forwarded frames left m; the client's identity stayed. */
	ck_assert_uint_eq(m.n, 1);
	assert_str_frame(&m, 0, "client");

	ck_assert_int_eq(wire_recv(worker, &w, 0, 0), 0);
	ck_assert_uint_eq(w.n, 3);
	assert_str_frame(&w, 0, "REQUEST");
	assert_str_frame(&w, 1, "hdr");
	assert_frame(&w, 2, big, sizeof(big));
	/* Same buffer end to end: no byte was copied on the way. */
	ck_assert_ptr_eq(zmq_msg_data(&w.part[2]), bytes);
	wire_msg_close(&w);

	/* The reply goes back through the identity kept in m. */
	out[0] = str("done");
	ck_assert_int_eq(wire_send(worker, NULL, 0, out, 1, 0), 0);
	ck_assert_int_eq(wire_recv(back, &w, 0, 0), 0);
	ck_assert_int_eq(wire_forward(front, zmq_msg_data(&m.part[0]), zmq_msg_size(&m.part[0]),
	                              NULL, 0, &w, 1, 0),
	                 0);
	wire_msg_close(&w);
	wire_msg_close(&m);
	ck_assert_int_eq(wire_recv(client, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 1);
	assert_str_frame(&m, 0, "done");
	wire_msg_close(&m);
}
END_TEST

/* A part failing after the first one was sent: here a frame closed behind
 * wire_forward's back (zmq_msg_copy fails with EFAULT) stands in for a late
 * ETERM. The error is reported, the broken message is still ended on the
 * wire, and the next message reaches the peer whole and on its own. */
START_TEST(test_late_failure_ends_message)
{
	void *front = router("inproc://late-front");
	void *back = router("inproc://late-back");
	void *client = dealer("client", "inproc://late-front");
	void *worker = dealer("w1", "inproc://late-back");
	gh_frame_t out[2] = {str("a"), str("b")}, prefix = str("P");
	wire_msg_t m, w;

	ck_assert_int_eq(wire_send(worker, NULL, 0, out, 1, 0), 0);
	ck_assert_int_eq(wire_recv(back, &w, 0, 0), 0);
	wire_msg_close(&w);
	ck_assert_int_eq(wire_send(client, NULL, 0, out, 2, 0), 0);
	ck_assert_int_eq(wire_recv(front, &m, 0, 0), 0);
	ck_assert_uint_eq(m.n, 3);
	zmq_msg_close(&m.part[2]);

	ck_assert_int_eq(wire_forward(back, "w1", 2, &prefix, 1, &m, 1, ZMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EFAULT);
	ck_assert_uint_eq(m.n, 3);
	zmq_msg_init(&m.part[2]);
	wire_msg_close(&m);

	out[0] = str("next");
	ck_assert_int_eq(wire_send(back, "w1", 2, out, 1, 0), 0);
	ck_assert_int_eq(wire_recv(worker, &w, 0, 0), 0);
	ck_assert_uint_eq(w.n, 3);
	assert_str_frame(&w, 0, "P");
	assert_str_frame(&w, 1, "a");
	assert_str_frame(&w, 2, "");
	wire_msg_close(&w);
	ck_assert_int_eq(wire_recv(worker, &w, 0, 0), 0);
	ck_assert_uint_eq(w.n, 1);
	assert_str_frame(&w, 0, "next");
	wire_msg_close(&w);
}
END_TEST

START_TEST(test_socket_errors)
{
	char err[256];
	void *s;

	s = wire_socket(ctx, ZMQ_ROUTER, "tcp://nonsense", 1, HWM, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "bind tcp://nonsense: ") != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, zmq_strerror(errno)) != NULL, "err: %s", err);

	s = wire_socket(ctx, ZMQ_DEALER, "tcp://nonsense", 0, HWM, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "connect tcp://nonsense: ") != NULL, "err: %s", err);

	/* The failing one is named, not the good one before it. */
	s = wire_socket(ctx, ZMQ_ROUTER, "inproc://fine,tcp://nonsense", 1, HWM, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "tcp://nonsense") != NULL, "err: %s", err);
	ck_assert_msg(strstr(err, "inproc://fine") == NULL, "err: %s", err);

	s = wire_socket(ctx, ZMQ_ROUTER, " , ", 1, HWM, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_int_eq(errno, EINVAL);
	s = wire_socket(ctx, ZMQ_ROUTER, NULL, 1, HWM, NULL, 0);
	ck_assert_ptr_null(s);
	s = wire_socket(ctx, -1, "inproc://x", 1, HWM, err, sizeof(err));
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "zmq_socket") != NULL, "err: %s", err);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("wire");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_round_trip_inproc);
	tcase_add_test(tc, test_round_trip_tcp);
	tcase_add_test(tc, test_endpoint_list);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_oversized);
	tcase_add_test(tc, test_send_msg);
	tcase_add_test(tc, test_eagain_when_empty);
	tcase_add_test(tc, test_unknown_peer);
	tcase_add_test(tc, test_hwm_eagain_is_all_or_nothing);
	tcase_add_test(tc, test_forward_zero_copy);
	tcase_add_test(tc, test_late_failure_ends_message);
	tcase_add_test(tc, test_socket_errors);
	suite_add_tcase(s, tc);
	return s;
}
