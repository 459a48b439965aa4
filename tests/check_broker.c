/*
 * check_broker.c: the router's semantics (src/router/broker.c) without
 * sockets: messages go in through broker_handle, and a capturing send
 * callback decodes and records what comes out. Time is two fake clocks, a
 * monotonic one and a wall clock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <jansson.h>

#include "broker.h"
#include "log.h"
#include "proto.h"
#include "lib/check_main.h"

#define CAP_MAX    512
#define CAP_FRAMES 16

typedef struct {
	int ep;
	char id[64];
	size_t n;
	char *f[CAP_FRAMES]; /* NUL-terminated copies */
	size_t fl[CAP_FRAMES];
} cap_msg_t;

static cap_msg_t cap[CAP_MAX];
static size_t ncap;
static const char *gone_id; /* sends to this identity fail with EHOSTUNREACH */
static broker_t *b;
static uint64_t now; /* the fake monotonic clock */
static int64_t wall; /* the fake wall clock */

#define WALL0 1795446000000 /* ms, a whole hour */

static void
cap_clear(void)
{
	for (size_t i = 0; i < ncap; i++)
		for (size_t k = 0; k < cap[i].n; k++)
			free(cap[i].f[k]);
	ncap = 0;
}

static int
cap_send(void *ctx, int ep, const void *id, size_t idlen, const gh_frame_t *frames, size_t n)
{
	cap_msg_t *m;
	proto_msg_t msg;
	proto_err_t err;
	(void)ctx;
	/* Everything the broker sends must decode. */
	ck_assert_msg(proto_decode(frames, n, &msg, &err) == 0, "the broker sent a bad %.*s: %s",
	              (int)(n > 2 ? frames[2].size : 0), n > 2 ? frames[2].data : "", err.text);
	if (gone_id && idlen == strlen(gone_id) && memcmp(id, gone_id, idlen) == 0) {
		errno = EHOSTUNREACH;
		return -1;
	}
	ck_assert_uint_lt(ncap, CAP_MAX);
	ck_assert_uint_le(n, CAP_FRAMES);
	ck_assert_uint_lt(idlen, sizeof(cap[0].id));
	m = &cap[ncap++];
	m->ep = ep;
	memcpy(m->id, id, idlen);
	m->id[idlen] = '\0';
	m->n = n;
	for (size_t i = 0; i < n; i++) {
		m->f[i] = malloc(frames[i].size + 1);
		if (frames[i].size)
			memcpy(m->f[i], frames[i].data, frames[i].size);
		m->f[i][frames[i].size] = '\0';
		m->fl[i] = frames[i].size;
	}
	return 0;
}

/* The first captured message with command cmd to identity id (NULL: any),
 * or NULL. */
static cap_msg_t *
cap_find(const char *id, const char *cmd)
{
	for (size_t i = 0; i < ncap; i++)
		if (cap[i].n >= 4 && strcmp(cap[i].f[2], cmd) == 0 &&
		    (!id || strcmp(cap[i].id, id) == 0))
			return &cap[i];
	return NULL;
}

static size_t
cap_count(const char *id, const char *cmd)
{
	size_t c = 0;
	for (size_t i = 0; i < ncap; i++)
		if (cap[i].n >= 4 && strcmp(cap[i].f[2], cmd) == 0 &&
		    (!id || strcmp(cap[i].id, id) == 0))
			c++;
	return c;
}

/* Feeds raw DEALER-view frames (NULL-terminated list of strings). */
static void
feed_raw(int ep, const char *id, int oversized, ...)
{
	gh_frame_t f[32];
	size_t n = 0;
	const char *s;
	va_list ap;
	va_start(ap, oversized);
	while ((s = va_arg(ap, const char *)) != NULL && n < 32) {
		f[n].data = s;
		f[n].size = strlen(s);
		n++;
	}
	va_end(ap);
	broker_handle(b, ep, id, strlen(id), f, n, oversized, now, wall);
}

#define FEED(ep, id, ...) feed_raw((ep), (id), 0, "", "eMQP/1.0", __VA_ARGS__, (const char *)NULL)

static void
setup_conf(long max_length)
{
	broker_conf_t c = {.max_length = max_length,
	                   .hb_interval_ms = 3000,
	                   .hb_timeout_ms = 5000,
	                   .default_queue = "default"};
	now = 1000000;
	wall = WALL0;
	gone_id = NULL;
	ncap = 0;
	b = broker_new(&c, cap_send, NULL, now);
}

static void
setup(void)
{
	log_set_level(LOG_LEVEL_ERROR);
	setup_conf(100);
}

static void
teardown(void)
{
	broker_destroy(&b);
	cap_clear();
}

static void
worker(const char *id, const char *queues, int ready)
{
	FEED(BROKER_BACKEND, id, "INFORM", "inform-1", queues, "worker");
	for (int i = 0; i < ready; i++)
		FEED(BROKER_BACKEND, id, "READY", "ready-1");
}

static json_t *
admin_json(const char *cmd)
{
	cap_msg_t *m;
	json_t *j;
	cap_clear();
	FEED(BROKER_ADMIN, "admin", cmd, "admin:1");
	m = cap_find("admin", "REPLY");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->ep, BROKER_ADMIN);
	ck_assert_uint_eq(m->n, 5);
	j = json_loads(m->f[4], 0, NULL);
	ck_assert_ptr_nonnull(j);
	return j;
}

START_TEST(test_inform_ack_heartbeat)
{
	cap_msg_t *m;
	FEED(BROKER_BACKEND, "w1", "INFORM", "inf-1", "[[10, \"default\"]]", "worker");
	ck_assert_uint_eq(ncap, 2);
	m = &cap[0];
	ck_assert_int_eq(m->ep, BROKER_BACKEND);
	ck_assert_str_eq(m->id, "w1");
	ck_assert_str_eq(m->f[0], "");
	ck_assert_str_eq(m->f[1], "eMQP/1.0");
	ck_assert_str_eq(m->f[2], "ACK");
	ck_assert_uint_eq(m->fl[3], 36);
	ck_assert_uint_eq(m->n, 5);
	ck_assert_str_eq(m->f[4], "inf-1");
	ck_assert_str_eq(cap[1].f[2], "HEARTBEAT");
	/* Heartbeats carry the wall clock passed in, in seconds. */
	ck_assert_str_eq(cap[1].f[4], "1795446000.000");
	cap_clear();
	now += 3000;
	wall += 3250;
	broker_tick(b, now, wall);
	m = cap_find("w1", "HEARTBEAT");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "1795446003.250");
	/* A scheduler INFORMs on the frontend and is ACKed there. */
	cap_clear();
	FEED(BROKER_FRONTEND, "s1", "INFORM", "inf-2", "", "scheduler");
	m = cap_find("s1", "ACK");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->ep, BROKER_FRONTEND);
	ck_assert_str_eq(m->f[4], "inf-2");
}
END_TEST

START_TEST(test_request_dispatch)
{
	cap_msg_t *m;
	const char *body = "[\"run\", {\"callable\": \"echo\"}]";
	worker("w1", "[[10, \"default\"]]", 1);
	cap_clear();
	FEED(BROKER_FRONTEND, "c1", "REQUEST", "req-1", "default", "guarantee,timeout:30", body);
	m = cap_find("w1", "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->ep, BROKER_BACKEND);
	ck_assert_uint_eq(m->n, 7);
	ck_assert_str_eq(m->f[3], "req-1");
	ck_assert_str_eq(m->f[4], "default");
	ck_assert_str_eq(m->f[5], "guarantee,timeout:30,reply-requested");
	ck_assert_str_eq(m->f[6], body);
	m = cap_find("c1", "REPLY");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->ep, BROKER_FRONTEND);
	ck_assert_uint_eq(m->n, 5);
	ck_assert_str_eq(m->f[4], "req-1");
	/* No slot left: the next one waits, but is acknowledged. */
	cap_clear();
	FEED(BROKER_FRONTEND, "c1", "REQUEST", "req-2", "default", "", body);
	ck_assert_ptr_null(cap_find("w1", "REQUEST"));
	m = cap_find("c1", "REPLY");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "req-2");
	cap_clear();
	FEED(BROKER_BACKEND, "w1", "READY", "r2");
	m = cap_find("w1", "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[3], "req-2");
	ck_assert_str_eq(m->f[5], "reply-requested");
}
END_TEST

START_TEST(test_weights_and_lru)
{
	cap_msg_t *m;
	worker("lo", "[[10, \"q\"]]", 1);
	worker("hi", "[[20, \"q\"]]", 1);
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "j1", "q", "", "x");
	m = cap_find(NULL, "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->id, "hi");
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "j2", "q", "", "x");
	m = cap_find(NULL, "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->id, "lo");

	/* Equal weights: the least recently used goes first. */
	worker("a", "[[5, \"e\"]]", 2);
	worker("b", "[[5, \"e\"]]", 2);
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "e1", "e", "", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "e2", "e", "", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "e3", "e", "", "x");
	ck_assert_uint_eq(cap_count("a", "REQUEST") + cap_count("b", "REQUEST"), 3);
	ck_assert_uint_ge(cap_count("a", "REQUEST"), 1);
	ck_assert_uint_ge(cap_count("b", "REQUEST"), 1);
	{
		size_t k = 0;
		const char *ids[3];
		for (size_t i = 0; i < ncap; i++)
			if (strcmp(cap[i].f[2], "REQUEST") == 0)
				ids[k++] = cap[i].id;
		ck_assert_str_ne(ids[0], ids[1]);
		ck_assert_str_eq(ids[0], ids[2]);
	}
}
END_TEST

START_TEST(test_result_only_when_asked)
{
	cap_msg_t *m;
	worker("w", "", 2);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "r1", "default", "reply-requested", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "r2", "default", "", "x");
	cap_clear();
	FEED(BROKER_BACKEND, "w", "REPLY", "m1", "{\"value\": 1}", "r1");
	m = cap_find("c", "REPLY");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n, 6);
	ck_assert_str_eq(m->f[4], "{\"value\": 1}");
	ck_assert_str_eq(m->f[5], "r1");
	cap_clear();
	FEED(BROKER_BACKEND, "w", "REPLY", "m2", "{\"value\": 2}", "r2");
	ck_assert_uint_eq(ncap, 0);
	/* Unknown msgid: ignored. */
	FEED(BROKER_BACKEND, "w", "REPLY", "m3", "{}", "nope");
	ck_assert_uint_eq(ncap, 0);
}
END_TEST

START_TEST(test_worker_error_forwarded)
{
	cap_msg_t *m;
	worker("w", "", 1);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "r1", "default", "", "x");
	cap_clear();
	FEED(BROKER_BACKEND, "w", "ERROR", "m1", "r1", "handler-error", "boom");
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n, 7);
	ck_assert_str_eq(m->f[4], "r1");
	ck_assert_str_eq(m->f[5], "handler-error");
	ck_assert_str_eq(m->f[6], "boom");
}
END_TEST

START_TEST(test_guarantee_requeue)
{
	cap_msg_t *m;
	worker("w1", "", 1);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "g1", "default", "guarantee,retry-count:1", "x");
	ck_assert_ptr_nonnull(cap_find("w1", "REQUEST"));
	cap_clear();
	FEED(BROKER_BACKEND, "w1", "KBYE", "k1");
	ck_assert_ptr_null(cap_find("c", "ERROR"));
	/* Requeued, so the next job manager gets it. */
	worker("w2", "", 1);
	m = cap_find("w2", "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[3], "g1");
	/* w2 stops answering: no attempts left, the client is told. */
	cap_clear();
	now += 6000;
	broker_tick(b, now, wall);
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "g1");
	ck_assert_str_eq(m->f[5], "job-failed");
}
END_TEST

/* ERROR not-run: a job manager hands a job back unstarted. Any job, with
 * or without guarantee, goes back to the head of its queue without using an
 * attempt, and the next free slot gets it. */
START_TEST(test_not_run_requeued)
{
	cap_msg_t *m;
	worker("w1", "", 1);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "p1", "default", "reply-requested", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "p2", "default", "guarantee,retry-count:0", "y");
	ck_assert_ptr_nonnull(cap_find("w1", "REQUEST"));
	cap_clear();
	FEED(BROKER_BACKEND, "w1", "ERROR", "e1", "p1", "not-run", "shutting down");
	ck_assert_ptr_null(cap_find("c", "ERROR"));
	/* Back at the head, before p2: the slot w1 spent on it is gone, so it
	 * waits for the next READY. */
	ck_assert_ptr_null(cap_find("w1", "REQUEST"));
	FEED(BROKER_BACKEND, "w1", "READY", "r1");
	m = cap_find("w1", "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[3], "p1");
	/* A guarantee job with no attempts left is handed back too. */
	FEED(BROKER_BACKEND, "w1", "ERROR", "e2", "p1", "not-run", "shutting down");
	cap_clear();
	worker("w2", "", 2);
	ck_assert_uint_eq(cap_count("w2", "REQUEST"), 2);
	FEED(BROKER_BACKEND, "w2", "ERROR", "e3", "p2", "not-run", "shutting down");
	cap_clear();
	FEED(BROKER_BACKEND, "w2", "READY", "r2");
	m = cap_find("w2", "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[3], "p2");
	ck_assert_ptr_null(cap_find("c", "ERROR"));
}
END_TEST

/* A result too large for the router fails its job and tells the client,
 * instead of leaving the job in flight for ever. */
START_TEST(test_oversized_result)
{
	cap_msg_t *m;
	worker("w", "", 1);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "big1", "default", "reply-requested", "x");
	ck_assert_ptr_nonnull(cap_find("w", "REQUEST"));
	cap_clear();
	/* As wire_recv hands it over: the result frame emptied, the ref kept. */
	feed_raw(BROKER_BACKEND, "w", 1, "", "eMQP/1.0", "REPLY", "m9", "", "big1",
	         (const char *)NULL);
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "big1");
	ck_assert_str_eq(m->f[5], "too-large");
	ck_assert_ptr_nonnull(cap_find("w", "ERROR"));
	/* The job is gone: a late REPLY for it is ignored, and w serves on. */
	cap_clear();
	FEED(BROKER_BACKEND, "w", "REPLY", "m10", "{}", "big1");
	ck_assert_ptr_null(cap_find("c", "REPLY"));
	FEED(BROKER_BACKEND, "w", "READY", "r2");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "small", "default", "reply-requested", "x");
	ck_assert_ptr_nonnull(cap_find("w", "REQUEST"));
}
END_TEST

START_TEST(test_lost_job_error)
{
	cap_msg_t *m;
	worker("w1", "", 1);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "n1", "default", "", "x");
	cap_clear();
	FEED(BROKER_BACKEND, "w1", "KBYE", "k1");
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "n1");
	ck_assert_str_eq(m->f[5], "job-failed");
}
END_TEST

START_TEST(test_unreachable_worker)
{
	cap_msg_t *m;
	worker("w1", "", 1);
	worker("w2", "[[1, \"default\"]]", 1);
	gone_id = "w1";
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "u1", "default", "", "x");
	m = cap_find("w2", "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[3], "u1");
	ck_assert_ptr_null(cap_find("c", "ERROR"));
}
END_TEST

START_TEST(test_ttl_expiry)
{
	cap_msg_t *m;
	FEED(BROKER_FRONTEND, "c", "REQUEST", "t1", "q", "ttl:2", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "t2", "q", "", "x");
	cap_clear();
	now += 1000;
	broker_tick(b, now, wall);
	ck_assert_ptr_null(cap_find("c", "ERROR"));
	now += 2000;
	broker_tick(b, now, wall);
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "t1");
	ck_assert_str_eq(m->f[5], "expired");
	ck_assert_uint_eq(cap_count("c", "ERROR"), 1);
}
END_TEST

START_TEST(test_inflight_timeout)
{
	cap_msg_t *m;
	worker("w", "", 1);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "t1", "default", "timeout:1", "x");
	cap_clear();
	now += 3000;
	FEED(BROKER_BACKEND, "w", "HEARTBEAT", "h", "1.5");
	broker_tick(b, now, wall);
	ck_assert_ptr_null(cap_find("c", "ERROR"));
	now += 3500;
	FEED(BROKER_BACKEND, "w", "HEARTBEAT", "h", "1.5");
	broker_tick(b, now, wall);
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "timeout");
}
END_TEST

START_TEST(test_max_length)
{
	cap_msg_t *m;
	broker_destroy(&b);
	setup_conf(2);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "m1", "q", "", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "m2", "q", "", "x");
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "m3", "q", "", "x");
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "m3");
	ck_assert_str_eq(m->f[5], "queue-full");
	ck_assert_ptr_null(cap_find("c", "REPLY"));
	/* Another queue still has room; a duplicate msgid does not. */
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "m4", "other", "", "x");
	ck_assert_ptr_nonnull(cap_find("c", "REPLY"));
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "m4", "other", "", "x");
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "duplicate-msgid");
}
END_TEST

START_TEST(test_exclusive_queue)
{
	cap_msg_t *m;
	worker("w1", "[[10, \"solo!\"]]", 0);
	ck_assert_ptr_nonnull(cap_find("w1", "ACK"));
	cap_clear();
	worker("w2", "[[10, \"solo!\"], [10, \"default\"]]", 0);
	m = cap_find("w2", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "denied");
	ck_assert_ptr_null(cap_find("w2", "ACK"));
	/* Freed when its job manager leaves. */
	FEED(BROKER_BACKEND, "w1", "KBYE", "k");
	cap_clear();
	worker("w2", "[[10, \"solo!\"]]", 0);
	ck_assert_ptr_nonnull(cap_find("w2", "ACK"));
}
END_TEST

START_TEST(test_unknown_queue_waits)
{
	json_t *st, *v;
	worker("w", "", 1);
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "x1", "nobody", "", "x");
	ck_assert_ptr_null(cap_find("w", "REQUEST"));
	ck_assert_ptr_nonnull(cap_find("c", "REPLY"));
	st = admin_json("STATUS");
	v = json_object_get(json_object_get(st, "waiting_messages_by_queue"), "nobody");
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(json_integer_value(v), 1);
	json_decref(st);
}
END_TEST

START_TEST(test_disconnect)
{
	cap_msg_t *m;
	worker("w", "", 0);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "d1", "q", "", "x");
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "DISCONNECT", "dc1");
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "denied");
	ck_assert_int_eq(broker_stopping(b), 0);
	FEED(BROKER_BACKEND, "w", "DISCONNECT", "dc2");
	ck_assert_ptr_nonnull(cap_find("w", "ERROR"));
	ck_assert_int_eq(broker_stopping(b), 0);
	cap_clear();
	FEED(BROKER_ADMIN, "adm", "DISCONNECT", "dc3");
	m = cap_find("adm", "ACK");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "dc3");
	ck_assert_ptr_nonnull(cap_find("w", "KBYE"));
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "shutdown");
	ck_assert_int_eq(broker_stopping(b), 1);
}
END_TEST

START_TEST(test_admin_json)
{
	json_t *j, *w;
	static const char *const keys[] = {"inflight_messages_by_queue",
	                                   "latency_messages_by_queue",
	                                   "max_latency_messages_by_queue",
	                                   "processed_messages_by_queue",
	                                   "processed_messages_by_worker",
	                                   "waiting_messages_by_queue",
	                                   "queues",
	                                   "uptime_s",
	                                   "version"};
	worker("w1", "[[20, \"email\"], [10, \"default\"]]", 2);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "s1", "email", "", "x");
	FEED(BROKER_BACKEND, "w1", "REPLY", "m", "{}", "s1");
	j = admin_json("STATUS");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(json_object_get(j, keys[i]) != NULL, "STATUS lacks %s", keys[i]);
	w = json_object_get(json_object_get(j, "queues"), "email");
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(json_integer_value(json_object_get(w, "processed")), 1);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(w, "latency_ms"), "p99"));
	json_decref(j);

	j = admin_json("ROUTER_SHOW_WORKERS");
	w = json_object_get(json_object_get(j, "connected_workers"), "w1");
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(json_integer_value(json_object_get(w, "available_slots")), 1);
	ck_assert_int_eq(json_array_size(json_object_get(w, "queues")), 2);
	ck_assert(json_is_real(json_object_get(w, "hb")));
	ck_assert(json_real_value(json_object_get(w, "hb_age")) == 0.0);
	json_decref(j);
	now += 1500;
	j = admin_json("ROUTER_SHOW_WORKERS");
	w = json_object_get(json_object_get(j, "connected_workers"), "w1");
	ck_assert(json_real_value(json_object_get(w, "hb_age")) == 1.5);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "connected_queues"), "email"));
	json_decref(j);

	FEED(BROKER_FRONTEND, "s1", "INFORM", "i", "", "scheduler");
	j = admin_json("ROUTER_SHOW_SCHEDULERS");
	ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "connected_schedulers"), "s1"));
	json_decref(j);
}
END_TEST

START_TEST(test_decode_errors)
{
	static const struct {
		int ep;
		const char *code;
		const char *f[8];
		int oversized;
	} cases[] = {
	    {BROKER_FRONTEND, "short-message", {"", "eMQP/1.0", "REQUEST"}, 0},
	    {BROKER_FRONTEND, "bad-delimiter", {"x", "eMQP/1.0", "REQUEST", "m"}, 0},
	    {BROKER_FRONTEND, "bad-version", {"", "", "REQUEST", "m"}, 0},
	    {BROKER_FRONTEND, "unknown-command", {"", "eMQP/1.0", "FROB", "m"}, 0},
	    {BROKER_FRONTEND, "bad-arguments", {"", "eMQP/1.0", "REQUEST", "m", "q"}, 0},
	    {BROKER_FRONTEND, "bad-msgid", {"", "eMQP/1.0", "READY", ""}, 0},
	    {BROKER_FRONTEND, "bad-field", {"", "eMQP/1.0", "REQUEST", "m", "", "", "x"}, 0},
	    {BROKER_FRONTEND, "bad-header", {"", "eMQP/1.0", "REQUEST", "m", "q", "ttl:x", "x"}, 0},
	    {BROKER_BACKEND, "bad-json", {"", "eMQP/1.0", "INFORM", "m", "[[1,", "worker"}, 0},
	    {BROKER_ADMIN, "too-large", {"", "eMQP/1.0", "STATUS", "m"}, 1},
	    {BROKER_BACKEND, "unknown-peer", {"", "eMQP/1.0", "READY", "m"}, 0},
	    {BROKER_ADMIN, "denied", {"", "eMQP/1.0", "REQUEST", "m", "q", "", "x"}, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		gh_frame_t f[8];
		size_t n = 0;
		cap_msg_t *m;
		while (n < 8 && cases[i].f[n]) {
			f[n].data = cases[i].f[n];
			f[n].size = strlen(cases[i].f[n]);
			n++;
		}
		cap_clear();
		broker_handle(b, cases[i].ep, "p", 1, f, n, cases[i].oversized, now, wall);
		m = cap_find("p", "ERROR");
		ck_assert_msg(m != NULL, "case %zu: no ERROR", i);
		ck_assert_int_eq(m->ep, cases[i].ep);
		ck_assert_uint_eq(m->n, 7);
		ck_assert_msg(strcmp(m->f[5], cases[i].code) == 0, "case %zu: %s, expected %s", i,
		              m->f[5], cases[i].code);
		ck_assert_uint_gt(m->fl[6], 0);
	}
	/* An ERROR is never answered with an ERROR. */
	cap_clear();
	FEED(BROKER_FRONTEND, "p", "ERROR", "m", "", "Bad Code", "x");
	ck_assert_uint_eq(ncap, 0);
}
END_TEST

START_TEST(test_heartbeat_timeout)
{
	json_t *j;
	worker("w1", "", 1);
	worker("w2", "", 1);
	cap_clear();
	now += 3000;
	broker_tick(b, now, wall);
	ck_assert_uint_eq(cap_count("w1", "HEARTBEAT"), 1);
	FEED(BROKER_BACKEND, "w2", "HEARTBEAT", "h", "1795446439.9970937");
	now += 2500;
	broker_tick(b, now, wall);
	j = admin_json("ROUTER_SHOW_WORKERS");
	ck_assert_ptr_null(json_object_get(json_object_get(j, "connected_workers"), "w1"));
	ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "connected_workers"), "w2"));
	json_decref(j);
}
END_TEST

START_TEST(test_schedule)
{
	static const char job[] = "[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\"}]";
	static const struct {
		const char *interval, *body, *cron, *why;
	} bad[] = {
	    {"2", "x", "", "not JSON"},
	    {"2", "[\"run\", 1]", "", "[\"run\", {...}]"},
	    {"-1", job, "61 * * * *", "minute"},
	    {"-1", job, "0 0 31 2 *", "never matches"},
	};
	cap_msg_t *m;
	FEED(BROKER_FRONTEND, "c", "SCHEDULE", "s1", "default", "guarantee", "2", job, "");
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "no-scheduler");
	/* EventMQ's scheduler (INFORM queues "") answers nothing: its client
	 * is acknowledged once the SCHEDULE is forwarded, as EventMQ does. */
	FEED(BROKER_FRONTEND, "emq", "INFORM", "i0", "", "scheduler");
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "SCHEDULE", "s0", "default", "", "5", job, "");
	ck_assert_ptr_nonnull(cap_find("emq", "SCHEDULE"));
	m = cap_find("c", "REPLY");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "s0");
	cap_clear();
	FEED(BROKER_FRONTEND, "emq", "KBYE", "k0");
	/* gearhorn-scheduler (INFORM queues "[]") answers once it has stored. */
	FEED(BROKER_FRONTEND, "sch", "INFORM", "i", "[]", "scheduler");
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "SCHEDULE", "s2", "default", "guarantee", "-1", job,
	     "* * * * *");
	m = cap_find("sch", "SCHEDULE");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n, 9);
	ck_assert_str_eq(m->f[3], "s2");
	ck_assert_str_eq(m->f[8], "* * * * *");
	/* The client is acknowledged once the scheduler has stored it, not
	 * before; the msgid is not reused meanwhile. */
	ck_assert_ptr_null(cap_find("c", "REPLY"));
	FEED(BROKER_FRONTEND, "c2", "SCHEDULE", "s2", "default", "", "5", job, "");
	m = cap_find("c2", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "duplicate-msgid");
	FEED(BROKER_FRONTEND, "c", "REPLY", "r0", "s2");
	ck_assert_str_eq(cap_find("c", "ERROR")->f[5], "denied");
	ck_assert_ptr_null(cap_find("c", "REPLY"));
	FEED(BROKER_FRONTEND, "sch", "REPLY", "r1", "s2");
	m = cap_find("c", "REPLY");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "s2");
	/* One it could not store is refused to the client, with its reason. */
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "SCHEDULE", "s4", "default", "", "5", job, "");
	FEED(BROKER_FRONTEND, "sch", "ERROR", "e1", "s4", "not-stored",
	     "SCHEDULE: database or disk is full");
	ck_assert_ptr_null(cap_find("c", "REPLY"));
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "s4");
	ck_assert_str_eq(m->f[5], "not-stored");
	ck_assert_str_eq(m->f[6], "SCHEDULE: database or disk is full");
	/* A late answer is ignored. */
	cap_clear();
	FEED(BROKER_FRONTEND, "sch", "REPLY", "r2", "s4");
	ck_assert_uint_eq(ncap, 0);
	/* A schedule the scheduler would refuse is refused here, to the client,
	 * and no scheduler sees it. */
	for (size_t i = 0; i < GH_ARRAY_LEN(bad); i++) {
		cap_clear();
		FEED(BROKER_FRONTEND, "c", "SCHEDULE", "s9", "default", "", bad[i].interval,
		     bad[i].body, bad[i].cron);
		ck_assert_ptr_null(cap_find("sch", "SCHEDULE"));
		ck_assert_ptr_null(cap_find("c", "REPLY"));
		m = cap_find("c", "ERROR");
		ck_assert_ptr_nonnull(m);
		ck_assert_str_eq(m->f[4], "s9");
		ck_assert_str_eq(m->f[5], "bad-schedule");
		ck_assert_msg(strstr(m->f[6], bad[i].why) != NULL, "case %zu: %s", i, m->f[6]);
	}
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "UNSCHEDULE", "s3", "", "", "-1", "x", "");
	ck_assert_ptr_nonnull(cap_find("sch", "UNSCHEDULE"));
	ck_assert_ptr_null(cap_find("c", "REPLY"));
	FEED(BROKER_FRONTEND, "sch", "REPLY", "r3", "s3");
	ck_assert_ptr_nonnull(cap_find("c", "REPLY"));
	/* No answer within the heartbeat timeout is no acknowledgement. */
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "SCHEDULE", "s5", "default", "", "5", job, "");
	now += 6000;
	broker_tick(b, now, wall);
	ck_assert_ptr_null(cap_find("c", "REPLY"));
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "s5");
	ck_assert_str_eq(m->f[5], "no-scheduler");
	/* The scheduler was dropped for silence too: an UNSCHEDULE has no one
	 * to remove it. */
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "UNSCHEDULE", "s6", "", "", "-1", "x", "");
	ck_assert_str_eq(cap_find("c", "ERROR")->f[5], "no-scheduler");
	ck_assert_ptr_null(cap_find("c", "REPLY"));
	/* A scheduler dropped for silence is told to inform again. */
	cap_clear();
	FEED(BROKER_FRONTEND, "sch", "HEARTBEAT", "h", "1.5");
	m = cap_find("sch", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "unknown-peer");
}
END_TEST

static int jadds, jdels;

static void
t_jadd(void *ctx, const journal_job_t *job)
{
	(void)ctx;
	ck_assert_int_eq(job->reply_requested, 0);
	ck_assert_str_eq(job->queue, "default");
	ck_assert_int_eq(job->accepted_ms, wall);
	jadds++;
}

static void
t_jdel(void *ctx, const char *msgid)
{
	(void)ctx;
	(void)msgid;
	jdels++;
}

START_TEST(test_journal_hooks)
{
	cap_msg_t *m;
	journal_job_t jj = {.msgid = "r1",
	                    .client = "c",
	                    .clen = 1,
	                    .queue = "default",
	                    .headers = "guarantee,reply-requested",
	                    .hlen = 25,
	                    .reply_requested = 1,
	                    .body = "x",
	                    .blen = 1,
	                    .retries_left = 2,
	                    .accepted_ms = 1000};
	jadds = jdels = 0;
	broker_set_journal(b, t_jadd, t_jdel, NULL);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "g1", "default", "guarantee", "x");
	broker_journal_committed(b, 1, NULL);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "n1", "default", "", "x");
	ck_assert_int_eq(jadds, 1);
	worker("w", "", 1);
	FEED(BROKER_BACKEND, "w", "REPLY", "m", "{}", "g1");
	ck_assert_int_eq(jdels, 1);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "g2", "default", "guarantee", "x");
	ck_assert_int_eq(jadds, 2);
	broker_journal_committed(b, 1, NULL);
	/* Stopping keeps journaled jobs (no ERROR, no delete) and fails the rest. */
	cap_clear();
	broker_shutdown(b);
	ck_assert_uint_eq(cap_count("c", "ERROR"), 1);
	m = cap_find("c", "ERROR");
	ck_assert_str_eq(m->f[4], "n1");
	ck_assert_int_eq(jdels, 1);
	/* Restored jobs wait at the tail; bad or duplicate rows are refused. */
	ck_assert_int_eq(broker_restore(b, &jj, now, 5000), 0);
	ck_assert_int_eq(broker_restore(b, &jj, now, 5000), -1);
	jj.msgid = "r2";
	jj.queue = "";
	ck_assert_int_eq(broker_restore(b, &jj, now, 5000), -1);
	cap_clear();
	FEED(BROKER_BACKEND, "w", "READY", "r");
	FEED(BROKER_BACKEND, "w", "READY", "r");
	ck_assert_uint_eq(cap_count("w", "REQUEST"), 2);
	m = &cap[1];
	ck_assert_str_eq(m->f[3], "r1");
	ck_assert_str_eq(m->f[5], "guarantee,reply-requested");
	cap_clear();
	FEED(BROKER_BACKEND, "w", "REPLY", "m", "{\"value\": 1}", "r1");
	m = cap_find("c", "REPLY");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "r1");
	ck_assert_int_eq(jdels, 2);
}
END_TEST

/* A guarantee job is acknowledged, and reaches a job manager, only after
 * the commit of the journal's transaction that holds it; a job without
 * guarantee needs no commit. */
START_TEST(test_journal_ack_after_commit)
{
	cap_msg_t *m;

	jadds = jdels = 0;
	broker_set_journal(b, t_jadd, t_jdel, NULL);
	worker("w", "", 1);
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "g1", "default", "guarantee", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "g2", "default", "guarantee", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "n1", "other", "", "x");
	ck_assert_int_eq(jadds, 2);
	ck_assert_uint_eq(cap_count("c", "REPLY"), 1);
	ck_assert_str_eq(cap_find("c", "REPLY")->f[4], "n1");
	ck_assert_ptr_null(cap_find("w", "REQUEST"));
	/* Pending jobs are known: their msgids are taken. */
	FEED(BROKER_FRONTEND, "c", "REQUEST", "g1", "default", "guarantee", "x");
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[5], "duplicate-msgid");
	ck_assert_int_eq(jadds, 2);
	/* Committed: both acknowledged in order, the first dispatched. */
	cap_clear();
	broker_journal_committed(b, 1, NULL);
	ck_assert_uint_eq(cap_count("c", "REPLY"), 2);
	ck_assert_str_eq(cap[1].f[2], "REPLY");
	ck_assert_str_eq(cap[1].f[4], "g1");
	ck_assert_str_eq(cap[2].f[4], "g2");
	m = cap_find("w", "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[3], "g1");
	/* A commit with nothing pending sends nothing. */
	cap_clear();
	broker_journal_committed(b, 1, NULL);
	ck_assert_uint_eq(ncap, 0);
	/* The pending jobs count towards max_length. */
	teardown();
	setup_conf(2);
	broker_set_journal(b, t_jadd, t_jdel, NULL);
	FEED(BROKER_FRONTEND, "c", "REQUEST", "p1", "default", "guarantee", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "p2", "default", "guarantee", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "p3", "default", "guarantee", "x");
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "p3");
	ck_assert_str_eq(m->f[5], "queue-full");
	/* Jobs pending when an admin DISCONNECT stops the broker are still
	 * acknowledged on commit (they are journaled), but not dispatched. */
	worker("w", "", 1);
	FEED(BROKER_ADMIN, "admin", "DISCONNECT", "d1");
	ck_assert_int_eq(broker_stopping(b), 1);
	cap_clear();
	broker_journal_committed(b, 1, NULL);
	ck_assert_uint_eq(cap_count("c", "REPLY"), 2);
	ck_assert_ptr_null(cap_find("w", "REQUEST"));
}
END_TEST

/* A commit that fails refuses the jobs it held with ERROR not-stored, never
 * an acknowledgement, and none of them runs; jobs without guarantee are
 * served on, and STATUS says the journal is failing until a commit works. */
START_TEST(test_journal_not_stored)
{
	cap_msg_t *m;
	json_t *st;

	jadds = jdels = 0;
	broker_set_journal(b, t_jadd, t_jdel, NULL);
	st = admin_json("STATUS");
	ck_assert_str_eq(json_string_value(json_object_get(st, "journal")), "ok");
	ck_assert(json_is_null(json_object_get(st, "journal_error")));
	json_decref(st);
	worker("w", "", 1);
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "g1", "default", "guarantee", "x");
	FEED(BROKER_FRONTEND, "c", "REQUEST", "g2", "default", "guarantee", "x");
	broker_journal_committed(b, 0, "COMMIT: database or disk is full");
	ck_assert_uint_eq(cap_count("c", "REPLY"), 0);
	ck_assert_uint_eq(cap_count("c", "ERROR"), 2);
	ck_assert_ptr_null(cap_find("w", "REQUEST"));
	m = cap_find("c", "ERROR");
	ck_assert_str_eq(m->f[4], "g1");
	ck_assert_str_eq(m->f[5], "not-stored");
	ck_assert_ptr_nonnull(strstr(m->f[6], "database or disk is full"));
	ck_assert_str_eq(cap[1].f[4], "g2");
	ck_assert_int_eq(jdels, 0); /* rolled back: no row to delete */
	/* Served on without the disk; STATUS tells. */
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "n1", "default", "", "x");
	ck_assert_ptr_nonnull(cap_find("c", "REPLY"));
	m = cap_find("w", "REQUEST");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[3], "n1");
	st = admin_json("STATUS");
	ck_assert_str_eq(json_string_value(json_object_get(st, "journal")), "failing");
	ck_assert_str_eq(json_string_value(json_object_get(st, "journal_error")),
	                 "COMMIT: database or disk is full");
	ck_assert_int_eq(json_integer_value(json_object_get(st, "not_stored")), 2);
	json_decref(st);
	/* The refused msgid may be sent again, and is acknowledged once a
	 * commit works. */
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "g1", "default", "guarantee", "x");
	ck_assert_uint_eq(ncap, 0);
	broker_journal_committed(b, 1, NULL);
	m = cap_find("c", "REPLY");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], "g1");
	st = admin_json("STATUS");
	ck_assert_str_eq(json_string_value(json_object_get(st, "journal")), "ok");
	json_decref(st);
	/* Without a journal, STATUS says so. */
	broker_set_journal(b, NULL, NULL, NULL);
	st = admin_json("STATUS");
	ck_assert_str_eq(json_string_value(json_object_get(st, "journal")), "off");
	json_decref(st);
}
END_TEST

/* A broker with byte limits (0: the broker's defaults) and room for any
 * number of waiting jobs. */
static void
setup_bytes(size_t max_bytes, size_t max_bytes_total)
{
	broker_conf_t c = {.max_length = 1000,
	                   .max_bytes = max_bytes,
	                   .max_bytes_total = max_bytes_total,
	                   .hb_interval_ms = 3000,
	                   .hb_timeout_ms = 5000,
	                   .default_queue = "default"};
	broker_destroy(&b);
	cap_clear();
	b = broker_new(&c, cap_send, NULL, now);
}

static json_int_t
status_int(const char *queue, const char *key)
{
	json_t *st = admin_json("STATUS"), *o = st, *v;
	json_int_t n;

	if (queue != NULL)
		o = json_object_get(json_object_get(st, "queues"), queue);
	v = json_object_get(o, key);
	ck_assert_msg(json_is_integer(v), "STATUS has no %s%s%s", queue ? queue : "",
	              queue ? "." : "", key);
	n = json_integer_value(v);
	json_decref(st);
	return n;
}

/* Submits REQUEST msgid on queue from client "c" with a body that makes the
 * job count exactly 1000 bytes; returns the answer's command (REPLY or
 * ERROR), and its text in text (NULL: not wanted). */
static const char *
submit_kb(const char *msgid, const char *queue, char *text, size_t len)
{
	static char body[1000];
	size_t blen = 1000 - BROKER_JOB_BYTES(1, strlen(msgid), 0, 0);
	cap_msg_t *m;

	memset(body, 'x', blen);
	body[blen] = '\0';
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", msgid, queue, "", body);
	if ((m = cap_find("c", "REPLY")) != NULL)
		return "REPLY";
	m = cap_find("c", "ERROR");
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->f[4], msgid);
	ck_assert_str_eq(m->f[5], "queue-full");
	if (text != NULL)
		snprintf(text, len, "%s", m->f[6]);
	return "ERROR";
}

/* max_bytes per queue and max_bytes_total count the bytes of the jobs held,
 * waiting and in flight, from acceptance to the end; at the edge a job that
 * would pass a limit is refused with queue-full naming the limit. */
START_TEST(test_max_bytes)
{
	char text[256];

	setup_bytes(3500, 5000);
	/* floor(3500 / 1000) jobs of 1000 bytes fit in q. */
	ck_assert_str_eq(submit_kb("q1", "q", NULL, 0), "REPLY");
	ck_assert_str_eq(submit_kb("q2", "q", NULL, 0), "REPLY");
	ck_assert_str_eq(submit_kb("q3", "q", NULL, 0), "REPLY");
	ck_assert_str_eq(submit_kb("q4", "q", text, sizeof(text)), "ERROR");
	ck_assert_str_eq(text, "REQUEST: queue is full (max_bytes 3500: 3000 held, this job 1000)");
	ck_assert_int_eq(status_int("q", "bytes"), 3000);
	ck_assert_int_eq(status_int("q", "rejected"), 1);
	/* Another queue has room until the total is reached, exactly. */
	ck_assert_str_eq(submit_kb("r1", "r", NULL, 0), "REPLY");
	ck_assert_str_eq(submit_kb("r2", "r", NULL, 0), "REPLY");
	ck_assert_int_eq(status_int(NULL, "bytes"), 5000);
	ck_assert_str_eq(submit_kb("r3", "r", text, sizeof(text)), "ERROR");
	ck_assert_str_eq(text, "REQUEST: queue is full (max_bytes_total 5000: 5000 held in all "
	                       "queues, this job 1000)");
	/* A job in flight still counts; once it is done, its bytes are free. */
	worker("w", "[[10, \"q\"]]", 1);
	ck_assert_ptr_nonnull(cap_find("w", "REQUEST"));
	ck_assert_int_eq(status_int("q", "bytes"), 3000);
	ck_assert_str_eq(submit_kb("q5", "q", NULL, 0), "ERROR");
	FEED(BROKER_BACKEND, "w", "REPLY", "m1", "{}", "q1");
	ck_assert_int_eq(status_int("q", "bytes"), 2000);
	ck_assert_int_eq(status_int(NULL, "bytes"), 4000);
	ck_assert_str_eq(submit_kb("q5", "q", NULL, 0), "REPLY");
	ck_assert_str_eq(submit_kb("q6", "q", NULL, 0), "ERROR");
	/* A refused job is not held: its msgid is free for a retry. */
	FEED(BROKER_BACKEND, "w", "READY", "r");
	FEED(BROKER_BACKEND, "w", "REPLY", "m2", "{}", "q2");
	ck_assert_str_eq(submit_kb("q6", "q", NULL, 0), "REPLY");
	/* Every way out gives the bytes back: a failure, expiry, shutdown. */
	FEED(BROKER_BACKEND, "w", "READY", "r");
	FEED(BROKER_BACKEND, "w", "ERROR", "e1", "q3", "handler-error", "boom");
	ck_assert_int_eq(status_int(NULL, "bytes"), 4000);
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "t1", "s", "ttl:1", "x");
	ck_assert_ptr_nonnull(cap_find("c", "REPLY"));
	ck_assert_int_eq(status_int("s", "bytes"), (json_int_t)BROKER_JOB_BYTES(1, 2, 5, 1));
	now += 2000;
	broker_tick(b, now, wall);
	ck_assert_int_eq(status_int("s", "bytes"), 0);
	broker_shutdown(b);
	ck_assert_int_eq(status_int(NULL, "bytes"), 0);
	ck_assert_int_eq(status_int("q", "bytes"), 0);
	ck_assert_int_eq(status_int("r", "bytes"), 0);
}
END_TEST

/* max_bytes 0 is a tenth of max_bytes_total; 0 for both is no limit. The
 * limits are in STATUS, and broker_configure (SIGHUP) changes them. */
START_TEST(test_max_bytes_defaults)
{
	char text[256];

	setup_bytes(0, 20000);
	ck_assert_int_eq(status_int(NULL, "max_bytes"), 2000);
	ck_assert_int_eq(status_int(NULL, "max_bytes_total"), 20000);
	ck_assert_str_eq(submit_kb("a1", "q", NULL, 0), "REPLY");
	ck_assert_str_eq(submit_kb("a2", "q", NULL, 0), "REPLY");
	ck_assert_str_eq(submit_kb("a3", "q", text, sizeof(text)), "ERROR");
	ck_assert_ptr_nonnull(strstr(text, "max_bytes 2000:"));
	{
		broker_conf_t c = {.max_length = 1000, .max_bytes = 3000};
		broker_configure(b, &c);
	}
	ck_assert_int_eq(status_int(NULL, "max_bytes_total"), 0);
	ck_assert_str_eq(submit_kb("a3", "q", NULL, 0), "REPLY");
	ck_assert_str_eq(submit_kb("a4", "q", NULL, 0), "ERROR");
	setup_bytes(0, 0);
	ck_assert_int_eq(status_int(NULL, "max_bytes"), 0);
	for (int i = 0; i < 50; i++) {
		char id[16];
		snprintf(id, sizeof(id), "u%d", i);
		ck_assert_str_eq(submit_kb(id, "q", NULL, 0), "REPLY");
	}
	ck_assert_int_eq(status_int(NULL, "bytes"), 50000);
	/* The counted limits name themselves too. */
	broker_destroy(&b);
	cap_clear();
	setup_conf(1);
	ck_assert_str_eq(submit_kb("l1", "q", NULL, 0), "REPLY");
	ck_assert_str_eq(submit_kb("l2", "q", text, sizeof(text)), "ERROR");
	ck_assert_str_eq(text, "REQUEST: queue is full (max_length 1: 1 waiting)");
}
END_TEST

/* Jobs restored from the journal were acknowledged: they are counted, even
 * past the limits, and new requests wait until there is room. */
START_TEST(test_max_bytes_restore)
{
	journal_job_t jj = {.msgid = "r1",
	                    .client = "c",
	                    .clen = 1,
	                    .queue = "q",
	                    .headers = "guarantee",
	                    .hlen = 9,
	                    .body = "x",
	                    .blen = 1,
	                    .retries_left = 2,
	                    .accepted_ms = 1000};
	size_t one = BROKER_JOB_BYTES(1, 2, 9, 1);

	setup_bytes(one, 0);
	ck_assert_int_eq(broker_restore(b, &jj, now, wall), 0);
	jj.msgid = "r2";
	ck_assert_int_eq(broker_restore(b, &jj, now, wall), 0);
	ck_assert_int_eq(status_int("q", "bytes"), (json_int_t)(2 * one));
	ck_assert_str_eq(submit_kb("n1", "q", NULL, 0), "ERROR");
	worker("w", "[[10, \"q\"]]", 2);
	FEED(BROKER_BACKEND, "w", "REPLY", "m1", "{}", "r1");
	FEED(BROKER_BACKEND, "w", "REPLY", "m2", "{}", "r2");
	ck_assert_int_eq(status_int("q", "bytes"), 0);
	/* A job larger than the limit itself never fits; a small one now does. */
	ck_assert_str_eq(submit_kb("n1", "other", NULL, 0), "ERROR");
	cap_clear();
	FEED(BROKER_FRONTEND, "c", "REQUEST", "n2", "q", "", "x");
	ck_assert_ptr_nonnull(cap_find("c", "REPLY"));
}
END_TEST

static Suite *
broker_suite(void)
{
	Suite *s = suite_create("broker");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_inform_ack_heartbeat);
	tcase_add_test(tc, test_request_dispatch);
	tcase_add_test(tc, test_weights_and_lru);
	tcase_add_test(tc, test_result_only_when_asked);
	tcase_add_test(tc, test_worker_error_forwarded);
	tcase_add_test(tc, test_guarantee_requeue);
	tcase_add_test(tc, test_not_run_requeued);
	tcase_add_test(tc, test_oversized_result);
	tcase_add_test(tc, test_lost_job_error);
	tcase_add_test(tc, test_unreachable_worker);
	tcase_add_test(tc, test_ttl_expiry);
	tcase_add_test(tc, test_inflight_timeout);
	tcase_add_test(tc, test_max_length);
	tcase_add_test(tc, test_exclusive_queue);
	tcase_add_test(tc, test_unknown_queue_waits);
	tcase_add_test(tc, test_disconnect);
	tcase_add_test(tc, test_admin_json);
	tcase_add_test(tc, test_decode_errors);
	tcase_add_test(tc, test_heartbeat_timeout);
	tcase_add_test(tc, test_schedule);
	tcase_add_test(tc, test_journal_hooks);
	tcase_add_test(tc, test_journal_ack_after_commit);
	tcase_add_test(tc, test_journal_not_stored);
	tcase_add_test(tc, test_max_bytes);
	tcase_add_test(tc, test_max_bytes_defaults);
	tcase_add_test(tc, test_max_bytes_restore);
	suite_add_tcase(s, tc);
	return s;
}

Suite *
suite(void)
{
	return broker_suite();
}
