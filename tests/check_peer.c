/*
 * check_peer.c: the near end of a router connection (peer.h) against ROUTER
 * sockets that this test plays by hand, over inproc: INFORM until ACK,
 * heartbeats, re-INFORM on unknown-peer, KBYE and silence moving to the next
 * router with a new identity, what reaches the caller, stopping, and the
 * goodbye.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "loop.h"
#include "peer.h"
#include "proto.h"
#include "util.h"
#include "wire.h"
#include "lib/check_main.h"

#define MAXMSG 64

typedef struct {
	char id[64];
	char cmd[32];
	char msgid[64];
	char arg[2][64];
	size_t nargs;
} got_t;

static void *ctx;
static loop_t *loop;
static void *r[2]; /* the routers */
static peer_t *peer;
static int registered, lost, messages, bad, oversized;
static char lost_why[128], last_cmd[32];

static void
on_message(peer_t *p, const proto_msg_t *m, const wire_msg_t *raw, const proto_err_t *err,
           void *arg)
{
	GH_UNUSED(p);
	GH_UNUSED(arg);
	if (m == NULL) {
		ck_assert(raw->oversized);
		oversized++;
	} else if (err != NULL) {
		bad++;
	} else {
		messages++;
		gh_strlcpy(last_cmd, proto_cmd_name(m->cmd), sizeof(last_cmd));
	}
}

static void
on_registered(peer_t *p, void *arg)
{
	GH_UNUSED(p);
	GH_UNUSED(arg);
	registered++;
}

static void
on_lost(peer_t *p, const char *why, void *arg)
{
	GH_UNUSED(p);
	GH_UNUSED(arg);
	lost++;
	gh_strlcpy(lost_why, why, sizeof(lost_why));
}

static int
on_stop(loop_t *l, uint64_t id, void *arg)
{
	GH_UNUSED(id);
	GH_UNUSED(arg);
	loop_stop(l);
	return 0;
}

/* Runs the peer's loop for ms milliseconds. */
static void
run_for(uint64_t ms)
{
	loop_add_timer(loop, ms, 0, on_stop, NULL);
	ck_assert_int_eq(loop_run(loop), 0);
}

/* Every message router i has received, in order. */
static size_t
drain(int i, got_t *out, size_t cap)
{
	size_t n = 0;
	wire_msg_t m;

	while (n < cap && wire_recv(r[i], &m, 0, ZMQ_DONTWAIT) == 0) {
		gh_frame_t f[WIRE_MAX_FRAMES];
		size_t nf = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
		got_t *g = &out[n++];

		memset(g, 0, sizeof(*g));
		ck_assert_uint_ge(nf, 5);
		ck_assert_uint_eq(f[1].size, 0);
		memcpy(g->id, f[0].data, f[0].size < 63 ? f[0].size : 63);
		memcpy(g->cmd, f[3].data, f[3].size < 31 ? f[3].size : 31);
		memcpy(g->msgid, f[4].data, f[4].size < 63 ? f[4].size : 63);
		for (size_t a = 5; a < nf && g->nargs < 2; a++, g->nargs++)
			memcpy(g->arg[g->nargs], f[a].data, f[a].size < 63 ? f[a].size : 63);
		wire_msg_close(&m);
	}
	return n;
}

static size_t
count(const got_t *g, size_t n, const char *cmd)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += strcmp(g[i].cmd, cmd) == 0;
	return c;
}

static const got_t *
find(const got_t *g, size_t n, const char *cmd)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(g[i].cmd, cmd) == 0)
			return &g[i];
	return NULL;
}

/* Router i sends cmd with up to three args to the peer whose identity is id. */
static void
router_send3(int i, const char *id, const char *cmd, const char *a1, const char *a2, const char *a3)
{
	gh_frame_t f[7] = {{"", 0}, {"eMQP/1.0", 8}, {cmd, strlen(cmd)}, {"m-router", 8}};
	size_t n = 4;

	if (a1 != NULL)
		f[n++] = (gh_frame_t){a1, strlen(a1)};
	if (a2 != NULL)
		f[n++] = (gh_frame_t){a2, strlen(a2)};
	if (a3 != NULL)
		f[n++] = (gh_frame_t){a3, strlen(a3)};
	ck_assert_int_eq(wire_send(r[i], id, strlen(id), f, n, 0), 0);
}

static void
router_send(int i, const char *id, const char *cmd, const char *a1, const char *a2)
{
	router_send3(i, id, cmd, a1, a2, NULL);
}

static void
setup(void)
{
	int mandatory = 1;

	ctx = zmq_ctx_new();
	loop = loop_new();
	for (int i = 0; i < 2; i++) {
		char ep[32];

		r[i] = zmq_socket(ctx, ZMQ_ROUTER);
		zmq_setsockopt(r[i], ZMQ_ROUTER_MANDATORY, &mandatory, sizeof(mandatory));
		snprintf(ep, sizeof(ep), "inproc://router%d", i);
		ck_assert_int_eq(zmq_bind(r[i], ep), 0);
	}
	registered = lost = messages = bad = oversized = 0;
	lost_why[0] = last_cmd[0] = '\0';
}

static void
teardown(void)
{
	peer_destroy(&peer, 0);
	for (int i = 0; i < 2; i++)
		zmq_close(r[i]);
	loop_destroy(&loop);
	zmq_ctx_term(ctx);
}

static void
start(long hb_interval_ms, long hb_timeout_ms)
{
	static char *const eps[] = {"inproc://router0", "inproc://router1"};
	peer_config_t c;
	char err[128];

	memset(&c, 0, sizeof(c));
	c.type = "worker";
	c.queues = "[[10,\"q\"]]";
	c.endpoints = eps;
	c.nendpoints = 2;
	c.hb_interval_ms = hb_interval_ms;
	c.hb_timeout_ms = hb_timeout_ms;
	c.max_message = 1000;
	c.hwm = 1000;
	c.message = on_message;
	c.registered = on_registered;
	c.lost = on_lost;
	peer = peer_new(loop, ctx, &c, err, sizeof(err));
	ck_assert_msg(peer != NULL, "peer_new: %s", err);
}

/* Starts a peer and registers it with router 0; returns its identity. */
static void
start_registered(char id[64])
{
	got_t g[MAXMSG];
	size_t n;
	const got_t *inform;

	start(600, 1000);
	run_for(100);
	n = drain(0, g, MAXMSG);
	ck_assert_ptr_nonnull(inform = find(g, n, "INFORM"));
	gh_strlcpy(id, inform->id, 64);
	router_send(0, id, "ACK", inform->msgid, NULL);
	run_for(100);
	ck_assert_int_eq(registered, 1);
	ck_assert(peer_registered(peer));
}

START_TEST(test_inform_until_ack)
{
	got_t g[MAXMSG], i1;
	size_t n;
	const got_t *i2;

	start(600, 300);
	run_for(100);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "INFORM"), 1);
	i1 = *find(g, n, "INFORM");
	ck_assert_uint_eq(strlen(i1.id), GH_UUID_LEN);
	ck_assert_str_eq(i1.arg[0], "[[10,\"q\"]]");
	ck_assert_str_eq(i1.arg[1], "worker");
	ck_assert(!peer_registered(peer));
	/* No ACK: INFORM again, same identity, a new msgid. */
	run_for(700);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_ge(count(g, n, "INFORM"), 1);
	i2 = find(g, n, "INFORM");
	ck_assert_str_eq(i2->id, i1.id);
	ck_assert_str_ne(i2->msgid, i1.msgid);
	ck_assert_uint_eq(count(g, n, "HEARTBEAT"), 0); /* not before the ACK */
	/* An ACK of something else does not register; one of an INFORM of
	 * ours does, the first one too (a router slower than the timeout). */
	router_send(0, i2->id, "ACK", "not-the-inform", NULL);
	run_for(50);
	ck_assert_int_eq(registered, 0);
	router_send(0, i2->id, "ACK", i1.msgid, NULL);
	run_for(50);
	ck_assert_int_eq(registered, 1);
	/* The later INFORM's ACK, when it comes, changes nothing. */
	router_send(0, i2->id, "ACK", i2->msgid, NULL);
	run_for(50);
	ck_assert_int_eq(registered, 1);
	ck_assert_str_eq(peer_endpoint(peer), "inproc://router0");
}
END_TEST

START_TEST(test_heartbeats)
{
	char id[64];
	got_t g[MAXMSG];
	size_t n;
	const got_t *hb;

	start_registered(id);
	for (int i = 0; i < 4; i++) {
		router_send(0, id, "HEARTBEAT", "1.0", NULL); /* the router is alive */
		run_for(400);
	}
	n = drain(0, g, MAXMSG);
	ck_assert_uint_ge(count(g, n, "HEARTBEAT"), 1);
	hb = find(g, n, "HEARTBEAT");
	ck_assert_uint_eq(hb->nargs, 1);
	ck_assert_ptr_nonnull(strchr(hb->arg[0], '.'));
	ck_assert_int_eq(lost, 0);
	/* Sending counts: a peer that keeps sending needs no heartbeat. */
	for (int i = 0; i < 8; i++) {
		peer_send_cmd(peer, PROTO_READY);
		router_send(0, id, "HEARTBEAT", "1.0", NULL);
		run_for(200);
	}
	n = drain(0, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "READY"), 8);
	ck_assert_uint_eq(count(g, n, "HEARTBEAT"), 0);
}
END_TEST

START_TEST(test_unknown_peer_informs_again)
{
	char id[64];
	got_t g[MAXMSG];
	size_t n;
	const got_t *inform;

	start_registered(id);
	router_send3(0, id, "ERROR", "", "unknown-peer", "send INFORM first");
	run_for(100);
	ck_assert(!peer_registered(peer));
	n = drain(0, g, MAXMSG);
	ck_assert_ptr_nonnull(inform = find(g, n, "INFORM"));
	ck_assert_str_eq(inform->id, id); /* same connection */
	router_send(0, id, "ACK", inform->msgid, NULL);
	run_for(50);
	ck_assert_int_eq(registered, 2);
	ck_assert_int_eq(lost, 0);
	ck_assert_int_eq(messages, 0); /* handled by the peer itself */
}
END_TEST

START_TEST(test_kbye_moves_on)
{
	char id[64];
	got_t g[MAXMSG];
	size_t n;
	const got_t *inform;

	start_registered(id);
	router_send(0, id, "KBYE", NULL, NULL);
	run_for(100);
	ck_assert_int_eq(lost, 1);
	ck_assert_ptr_nonnull(strstr(lost_why, "KBYE"));
	ck_assert_str_eq(peer_endpoint(peer), "inproc://router1");
	n = drain(1, g, MAXMSG);
	ck_assert_ptr_nonnull(inform = find(g, n, "INFORM"));
	ck_assert_str_ne(inform->id, id); /* a new identity */
	router_send(1, inform->id, "ACK", inform->msgid, NULL);
	run_for(50);
	ck_assert_int_eq(registered, 2);
}
END_TEST

START_TEST(test_silence_moves_on)
{
	char id[64];
	got_t g[MAXMSG];
	size_t n;

	start_registered(id); /* heartbeat_timeout 1 s: dead after 3 s of silence */
	run_for(2500);
	ck_assert_int_eq(lost, 0);
	run_for(1200);
	ck_assert_int_eq(lost, 1);
	ck_assert_str_eq(lost_why, "no heartbeat");
	n = drain(1, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "INFORM"), 1);
	/* The list is a ring: silence on router1 leads back to router0. */
	drain(0, g, MAXMSG);
	run_for(3700);
	ck_assert_int_eq(lost, 2);
	ck_assert_str_eq(lost_why, "no answer to INFORM");
	ck_assert_str_eq(peer_endpoint(peer), "inproc://router0");
}
END_TEST

START_TEST(test_messages_reach_the_caller)
{
	char id[64], big[2000];
	gh_frame_t f[8];

	start_registered(id);
	router_send(0, id, "DISCONNECT", NULL, NULL);
	run_for(50);
	ck_assert_int_eq(messages, 1);
	ck_assert_str_eq(last_cmd, "DISCONNECT");
	router_send3(0, id, "ERROR", "", "queue-full", "full");
	run_for(50);
	ck_assert_int_eq(messages, 2);
	ck_assert_str_eq(last_cmd, "ERROR");
	router_send(0, id, "BOGUS", NULL, NULL);
	run_for(50);
	ck_assert_int_eq(bad, 1);
	/* Larger than max_message (1000 bytes). */
	memset(big, 'x', sizeof(big));
	f[0] = (gh_frame_t){"", 0};
	f[1] = (gh_frame_t){"eMQP/1.0", 8};
	f[2] = (gh_frame_t){"REQUEST", 7};
	f[3] = (gh_frame_t){"m-big", 5};
	f[4] = (gh_frame_t){"q", 1};
	f[5] = (gh_frame_t){"", 0};
	f[6] = (gh_frame_t){big, sizeof(big)};
	ck_assert_int_eq(wire_send(r[0], id, strlen(id), f, 7, 0), 0);
	run_for(50);
	ck_assert_int_eq(oversized, 1);
	ck_assert_int_eq(messages, 2);
	ck_assert(peer_registered(peer));
}
END_TEST

START_TEST(test_stop_keeps_heartbeating)
{
	char id[64];
	got_t g[MAXMSG];
	size_t n;

	start_registered(id);
	peer_stop(peer);
	run_for(3800); /* past 3 x heartbeat_timeout without a word */
	ck_assert_int_eq(lost, 0);
	n = drain(1, g, MAXMSG);
	ck_assert_uint_eq(n, 0);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_ge(count(g, n, "HEARTBEAT"), 3);
	ck_assert_uint_eq(count(g, n, "INFORM"), 0);
	/* KBYE from the router does not move a stopping peer either. */
	router_send(0, id, "KBYE", NULL, NULL);
	run_for(50);
	ck_assert_int_eq(lost, 0);
	peer_send_cmd(peer, PROTO_KBYE);
	run_for(50);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "KBYE"), 1);
}
END_TEST

/* Goodbye: what has already arrived reaches the caller before KBYE goes. */
START_TEST(test_goodbye_drains)
{
	char id[64];
	got_t g[MAXMSG];
	size_t n;

	start_registered(id);
	router_send3(0, id, "REQUEST", "q", "", "[\"run\", {}]");
	router_send3(0, id, "REQUEST", "q", "", "[\"run\", {}]");
	peer_goodbye(peer);
	ck_assert_int_eq(messages, 2);
	ck_assert_str_eq(last_cmd, "REQUEST");
	run_for(50);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "KBYE"), 1);
	ck_assert_str_eq(g[n - 1].cmd, "KBYE");
	/* Stopping: silence does not move it to the next router. */
	run_for(1200);
	ck_assert_int_eq(lost, 0);
	ck_assert_uint_eq(drain(1, g, MAXMSG), 0);
}
END_TEST

/* READY credit: never more outstanding than offered; every REQUEST uses
 * one, decoded or not; a re-INFORM starts again from none; nothing once
 * stopping. */
START_TEST(test_offer)
{
	char id[64];
	got_t g[MAXMSG];
	const got_t *inform;
	size_t n;

	start_registered(id);
	drain(0, g, MAXMSG);
	peer_offer(peer, 3);
	peer_offer(peer, 3);
	run_for(20);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "READY"), 3);
	/* Two REQUESTs, one of them malformed (no body): two READYs used. */
	router_send3(0, id, "REQUEST", "q", "", "[]");
	router_send(0, id, "REQUEST", NULL, NULL);
	run_for(50);
	ck_assert_int_eq(bad, 1);
	peer_offer(peer, 3);
	run_for(20);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "READY"), 2);
	/* Fewer free slots than outstanding READYs: none sent. */
	peer_offer(peer, 1);
	run_for(20);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "READY"), 0);
	/* The router forgot us: after the new ACK, every slot anew. */
	router_send3(0, id, "ERROR", "", "unknown-peer", "who?");
	run_for(50);
	n = drain(0, g, MAXMSG);
	ck_assert_ptr_nonnull(inform = find(g, n, "INFORM"));
	peer_offer(peer, 2);
	run_for(20);
	ck_assert_uint_eq(count(g, drain(0, g, MAXMSG), "READY"), 0); /* not before the ACK */
	router_send(0, id, "ACK", inform->msgid, NULL);
	run_for(50);
	peer_offer(peer, 2);
	run_for(20);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "READY"), 2);
	peer_stop(peer);
	router_send3(0, id, "REQUEST", "q", "", "[]");
	run_for(50);
	peer_offer(peer, 5);
	run_for(20);
	n = drain(0, g, MAXMSG);
	ck_assert_uint_eq(count(g, n, "READY"), 0);
}
END_TEST

/* Refusing what did not decode: the msgid of a REQUEST, nothing else. */
static void
raw_msg(wire_msg_t *m, const char *const *parts, size_t n)
{
	size_t i;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < n; i++) {
		zmq_msg_init_size(&m->part[i], strlen(parts[i]));
		memcpy(zmq_msg_data(&m->part[i]), parts[i], strlen(parts[i]));
	}
	m->n = n;
}

START_TEST(test_failed_request)
{
	static const char *const big[] = {"", PROTO_VERSION, "REQUEST", "m-1", "q", "", "x"};
	static const char *const badid[] = {"", PROTO_VERSION, "REQUEST", "bad id\n", "q"};
	static const char *const other[] = {"", PROTO_VERSION, "READY", "m-2"};
	char ref[PROTO_MAX_MSGID + 1];
	proto_msg_t m;
	wire_msg_t raw;

	raw_msg(&raw, big, 7);
	ck_assert_int_eq(peer_failed_request(NULL, &raw, ref), 1);
	ck_assert_str_eq(ref, "m-1");
	wire_msg_close(&raw);
	raw_msg(&raw, badid, 5);
	ck_assert_int_eq(peer_failed_request(NULL, &raw, ref), 0);
	wire_msg_close(&raw);
	raw_msg(&raw, other, 4);
	ck_assert_int_eq(peer_failed_request(NULL, &raw, ref), 0);
	/* Decoded, with an error: by the message's own fields. */
	proto_msg_init(&m, PROTO_REQUEST, "m-3");
	ck_assert_int_eq(peer_failed_request(&m, &raw, ref), 1);
	ck_assert_str_eq(ref, "m-3");
	proto_msg_init(&m, PROTO_REQUEST, NULL);
	ck_assert_int_eq(peer_failed_request(&m, &raw, ref), 0);
	proto_msg_init(&m, PROTO_HEARTBEAT, "m-4");
	ck_assert_int_eq(peer_failed_request(&m, &raw, ref), 0);
	wire_msg_close(&raw);
}
END_TEST

Suite *
suite(void)
{
	Suite *s = suite_create("peer");
	TCase *tc = tcase_create("peer");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_inform_until_ack);
	tcase_add_test(tc, test_heartbeats);
	tcase_add_test(tc, test_unknown_peer_informs_again);
	tcase_add_test(tc, test_kbye_moves_on);
	tcase_add_test(tc, test_silence_moves_on);
	tcase_add_test(tc, test_messages_reach_the_caller);
	tcase_add_test(tc, test_stop_keeps_heartbeating);
	tcase_add_test(tc, test_failed_request);
	tcase_add_test(tc, test_offer);
	tcase_add_test(tc, test_goodbye_drains);
	suite_add_tcase(s, tc);
	return s;
}
