/*
 * check_client.c: a client of several routers (client.c) against ROUTER
 * sockets that this test plays by hand, over inproc: a submit that one
 * router does not acknowledge in time goes to the next with the same msgid
 * and stays there; the copy queued for a router that never answered is
 * dropped, not delivered once it appears; no router at all is a timeout.
 * The client blocks, so it runs in a thread while the test plays routers.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "client_int.h"
#include "gearhorn.h"
#include "proto.h"
#include "util.h"
#include "wire.h"
#include "lib/check_main.h"

#define WAIT_MS 300

static void *ctx;

typedef struct {
	gearhorn_client_t *c;
	int rc;
	char err[256];
} submit_t;

static void *
submit_thread(void *arg)
{
	submit_t *s = arg;
	gearhorn_submit_opts_t o;

	gearhorn_submit_opts_init(&o);
	o.guarantee = 1;
	/* A long wait for answers; the failover waits only ack_wait_ms. */
	o.wait_ms = 60000;
	o.ack_wait_ms = WAIT_MS;
	s->rc =
	    gearhorn_submit(s->c, "q", "[\"run\", {}]", 11, &o, NULL, NULL, s->err, sizeof(s->err));
	return NULL;
}

static void *
router_at(const char *ep)
{
	void *r = zmq_socket(ctx, ZMQ_ROUTER);
	int zero = 0;

	zmq_setsockopt(r, ZMQ_LINGER, &zero, sizeof(zero));
	ck_assert_int_eq(zmq_bind(r, ep), 0);
	return r;
}

/* Receives a REQUEST on router r within ms, storing the client's identity
 * and the msgid; returns 1, or 0 when none came. */
static int
take_request(void *r, int ms, char *id, size_t *idlen, char *msgid)
{
	zmq_pollitem_t it = {r, 0, ZMQ_POLLIN, 0};
	gh_frame_t f[WIRE_MAX_FRAMES];
	proto_msg_t m;
	proto_err_t perr;
	wire_msg_t wm;
	size_t n;

	if (zmq_poll(&it, 1, ms) <= 0)
		return 0;
	ck_assert_int_eq(wire_recv(r, &wm, 0, 0), 0);
	n = wire_frames(&wm, 0, f, GH_ARRAY_LEN(f));
	ck_assert_uint_ge(n, 2);
	memcpy(id, f[0].data, f[0].size);
	*idlen = f[0].size;
	ck_assert_int_eq(proto_decode(f + 1, n - 1, &m, &perr), 0);
	ck_assert_int_eq(m.cmd, PROTO_REQUEST);
	memcpy(msgid, m.msgid.data, m.msgid.size);
	msgid[m.msgid.size] = '\0';
	wire_msg_close(&wm);
	return 1;
}

/* The router's acknowledgement: REPLY [msgid, the client's msgid]. */
static void
ack(void *r, const char *id, size_t idlen, const char *msgid)
{
	char mine[GH_UUID_LEN + 1];
	proto_msg_t m;
	proto_err_t perr;

	gh_uuid(mine);
	proto_msg_init(&m, PROTO_REPLY, mine);
	m.ref = gh_frame_str(msgid);
	ck_assert_int_eq(wire_send_msg(r, id, idlen, &m, 0, &perr), 0);
}

static void
setup(void)
{
	ctx = zmq_ctx_new();
}

static void
teardown(void)
{
	zmq_ctx_term(ctx);
}

START_TEST(test_fails_over_and_stays)
{
	void *a = router_at("inproc://a"), *b = router_at("inproc://b");
	char id[256], msgid[PROTO_MAX_MSGID + 1], again[PROTO_MAX_MSGID + 1], err[256];
	size_t idlen;
	submit_t s = {0};
	pthread_t t;

	s.c = client_new_in(ctx, "inproc://a, inproc://b", NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(s.c);
	ck_assert_str_eq(client_current(s.c), "inproc://a");
	/* a takes the job and says nothing: it goes to b, same msgid. */
	pthread_create(&t, NULL, submit_thread, &s);
	ck_assert(take_request(a, 5000, id, &idlen, msgid));
	ck_assert(take_request(b, 5000, id, &idlen, again));
	ck_assert_str_eq(again, msgid);
	ack(b, id, idlen, again);
	pthread_join(t, NULL);
	ck_assert_int_eq(s.rc, 0);
	ck_assert_str_eq(client_current(s.c), "inproc://b");
	/* The next job goes to b at once; a hears nothing of it. */
	pthread_create(&t, NULL, submit_thread, &s);
	ck_assert(take_request(b, 5000, id, &idlen, msgid));
	ck_assert_str_ne(msgid, again);
	ack(b, id, idlen, msgid);
	pthread_join(t, NULL);
	ck_assert_int_eq(s.rc, 0);
	ck_assert(!take_request(a, 100, id, &idlen, msgid));
	gearhorn_client_destroy(&s.c);
	zmq_close(a);
	zmq_close(b);
}
END_TEST

START_TEST(test_unsent_copy_dropped)
{
	void *b = router_at("inproc://b"), *c;
	char id[256], msgid[PROTO_MAX_MSGID + 1], err[256], list[300], ep[256];
	size_t idlen, eplen = sizeof(ep);
	submit_t s = {0};
	pthread_t t;

	/* A free port for c, over TCP: libzmq hands what waits for an inproc
	 * endpoint to its binder even after the sender has closed. */
	c = router_at("tcp://127.0.0.1:*");
	ck_assert_int_eq(zmq_getsockopt(c, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);
	zmq_close(c);
	snprintf(list, sizeof(list), "%s,inproc://b", ep);
	/* c is not there yet: the request waits in the client's queue for it. */
	s.c = client_new_in(ctx, list, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(s.c);
	pthread_create(&t, NULL, submit_thread, &s);
	ck_assert(take_request(b, 5000, id, &idlen, msgid));
	ack(b, id, idlen, msgid);
	pthread_join(t, NULL);
	ck_assert_int_eq(s.rc, 0);
	/* c appears: the copy it never took is not delivered to it. */
	c = router_at(ep);
	ck_assert(!take_request(c, 1000, id, &idlen, msgid));
	gearhorn_client_destroy(&s.c);
	zmq_close(b);
	zmq_close(c);
}
END_TEST

START_TEST(test_no_router_answers)
{
	void *a = router_at("inproc://a"), *b = router_at("inproc://b");
	char id[256], msgid[PROTO_MAX_MSGID + 1], err[256];
	size_t idlen;
	submit_t s = {0};
	pthread_t t;

	s.c = client_new_in(ctx, "inproc://a,inproc://b", NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(s.c);
	pthread_create(&t, NULL, submit_thread, &s);
	ck_assert(take_request(a, 5000, id, &idlen, msgid));
	ck_assert(take_request(b, 5000, id, &idlen, msgid));
	pthread_join(t, NULL);
	ck_assert_int_eq(s.rc, GEARHORN_ERR_TIMEOUT);
	ck_assert_msg(strstr(s.err, "any of 2 routers") != NULL, "%s", s.err);
	gearhorn_client_destroy(&s.c);
	ck_assert_ptr_null(client_new_in(ctx, " , ", NULL, err, sizeof(err)));
	zmq_close(a);
	zmq_close(b);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fails_over_and_stays);
	tcase_add_test(tc, test_unsent_copy_dropped);
	tcase_add_test(tc, test_no_router_answers);
	suite_add_tcase(s, tc);
	return s;
}
