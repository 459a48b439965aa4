/*
 * gearhorn-bridge: gearman <-> ZeroMQ (see gearhorn-bridge(8)).
 *
 * ZeroMQ to gearman: the main thread joins the router backends as a job
 * manager (peer.h) for the queues of [bridge] to_gearman and runs an event
 * loop. Each REQUEST goes to an idle slot thread over an inproc ROUTER
 * socket; the slot runs it as a gearman job (libgearman's client is
 * blocking, so one thread per job in flight) and hands back the answer,
 * which the main thread sends to the router as REPLY or ERROR, then READY.
 * Only idle slots are advertised with READY.
 *
 * Gearman to ZeroMQ: worker threads register the functions of to_zeromq and
 * subscribe; each job becomes a REQUEST (reply-requested) to its queue
 * through the router frontends, and the result becomes the gearman result.
 * A thread of its own keeps the bridge's fanout subscriptions.
 *
 * Signals go to the main loop (signalfd). SIGTERM: no new jobs; jobs in
 * flight finish; then KBYE and exit. A second SIGTERM exits at once.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libgearman/gearman.h>
#include <zmq.h>

#include "client_int.h"
#include "conf.h"
#include "log.h"
#include "loop.h"
#include "map.h"
#include "peer.h"
#include "proto.h"
#include "util.h"
#include "wire.h"

#define SECTION                    "bridge"
#define BRIDGE_SLOTS               "inproc://gearhorn-bridge-slots"
#define BRIDGE_HWM                 100000
#define BRIDGE_MAX_MESSAGE         (16u * 1024 * 1024 + 65536)
#define BRIDGE_POLL_MS             1000 /* gearman_worker_work returns to look at the stop flag */
#define BRIDGE_BACKOFF_MIN         100
#define BRIDGE_BACKOFF_MAX         10000
#define BRIDGE_RESUBSCRIBE_S       60 /* the longest renewal period of subscriptions */
#define BRIDGE_RESUBSCRIBE_RETRY_S 5  /* after a failed subscription */
#define BRIDGE_MAX_OVERRIDES       2
#define BRIDGE_ID_LEN              16

extern char **environ;

typedef struct bridge bridge_t;

/* A gearman -> ZeroMQ route as a worker thread sees it. */
typedef struct {
	struct zworker *z;
	const bridge_in_t *in;
} zroute_t;

/* A thread that serves gearman functions by sending their jobs to ZeroMQ. */
typedef struct zworker {
	bridge_t *b;
	int index;
	pthread_t thread;
	int started;
	gearman_worker_st *worker;
	gearhorn_client_t *client;
	zroute_t *routes;
	int failed; /* the last job ended with WORK_FAIL */
	long backoff;
} zworker_t;

/* A thread that runs ZeroMQ jobs as gearman jobs, one at a time. */
typedef struct {
	bridge_t *b;
	int index;
	pthread_t thread;
	int started;
} gslot_t;

struct bridge {
	const char *config_path;
	conf_override_t overrides[BRIDGE_MAX_OVERRIDES]; /* log_level, gearman_servers */
	size_t noverrides;
	char *servers_opt; /* every -s, joined: the gearman_servers override */

	conf_t *conf;
	char **servers;
	size_t nservers;
	char *identifier;
	long timeout;      /* seconds; 0: no limit (written by SIGHUP, read by threads) */
	long hb_timeout_s; /* seconds */
	int guarantee;     /* read by threads */

	bridge_out_t *outs;
	size_t nouts;
	char *queues_json;
	bridge_in_t *ins; /* to_zeromq, then subscribe */
	size_t nins;
	char **topics; /* subscribe: TOPIC of ins[nins - ntopics + i] */
	size_t ntopics;
	char *subscriber; /* a copy: SIGHUP replaces conf */

	loop_t *loop;
	void *ctx;
	void *slots; /* ROUTER, inproc: gslot and zworker threads */
	peer_t *peer;

	/* ZeroMQ -> gearman */
	gslot_t *gs;
	size_t ngs;
	char (*idle)[BRIDGE_ID_LEN]; /* identities of idle slots, a stack */
	size_t nidle, nready;        /* idle: said hello or answered; ready: of those */
	unsigned long gen;           /* router connection; answers of older ones are dropped */
	uint64_t backoff_until;
	long backoff_ms;
	uint64_t backoff_timer;

	/* gearman -> ZeroMQ */
	zworker_t *zw;
	size_t nzw, zrunning;
	int zstop; /* atomic */

	/* The fanout subscriptions: a thread of their own, so that no job
	 * delays their renewal. */
	pthread_t sub_thread;
	int sub_started;
	gearman_client_st *sub_client;
	int subscribed;       /* at least once */
	uint64_t sub_next_ms; /* when to make them again */
	long resubscribe_s;   /* atomic: the renewal period */

	int stopping, said_goodbye, forced;
};

/* The next wait after a failure: BRIDGE_BACKOFF_MIN, then doubling up to
 * BRIDGE_BACKOFF_MAX. */
static long
backoff_next(long ms)
{
	ms = ms == 0 ? BRIDGE_BACKOFF_MIN : ms * 2;
	return ms > BRIDGE_BACKOFF_MAX ? BRIDGE_BACKOFF_MAX : ms;
}

/* ---- the gearman client of a slot ---- */

typedef enum { GJ_NONE, GJ_DONE, GJ_FAILED, GJ_EXCEPTION } gj_status_t;

typedef struct {
	gj_status_t status;
	int created;
	char *data; /* result or exception text */
	size_t len;
} gj_t;

static void
gj_append(gj_t *j, gearman_task_st *task)
{
	size_t n = gearman_task_data_size(task);

	if (n == 0)
		return;
	j->data = gh_realloc(j->data, j->len + n + 1);
	memcpy(j->data + j->len, gearman_task_data(task), n);
	j->len += n;
	j->data[j->len] = '\0';
}

static gearman_return_t
gj_on_created(gearman_task_st *task)
{
	((gj_t *)gearman_task_context(task))->created = 1;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
gj_on_data(gearman_task_st *task)
{
	gj_append(gearman_task_context(task), task);
	return GEARMAN_SUCCESS;
}

static gearman_return_t
gj_on_complete(gearman_task_st *task)
{
	gj_t *j = gearman_task_context(task);

	gj_append(j, task);
	j->status = GJ_DONE;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
gj_on_fail(gearman_task_st *task)
{
	((gj_t *)gearman_task_context(task))->status = GJ_FAILED;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
gj_on_exception(gearman_task_st *task)
{
	gj_t *j = gearman_task_context(task);
	gearman_string_t e = gearman_task_exception(task);

	free(j->data);
	j->len = gearman_size(e);
	j->data = gh_malloc(j->len + 1);
	memcpy(j->data, gearman_c_str(e), j->len);
	j->data[j->len] = '\0';
	j->status = GJ_EXCEPTION;
	return GEARMAN_SUCCESS;
}

/* A client connected to [global] gearman_servers, or NULL with err. */
static gearman_client_st *
gclient_new(bridge_t *b, char *err, size_t errlen)
{
	gearman_client_st *gc = gearman_client_create(NULL);
	char host[256];
	size_t i;
	int port;

	if (gc == NULL) {
		gh_err(err, errlen, "cannot create a gearman client");
		return NULL;
	}
	gearman_client_set_identifier(gc, b->identifier, strlen(b->identifier));
	for (i = 0; i < b->nservers; i++) {
		if (conf_parse_server(b->servers[i], host, sizeof(host), &port, err, errlen) < 0 ||
		    gearman_client_add_server(gc, host, (in_port_t)port) != GEARMAN_SUCCESS) {
			if (gearman_client_error(gc) != NULL)
				gh_err(err, errlen, "%s: %s", b->servers[i],
				       gearman_client_error(gc));
			gearman_client_free(gc);
			return NULL;
		}
	}
	gearman_client_set_created_fn(gc, gj_on_created);
	gearman_client_set_data_fn(gc, gj_on_data);
	gearman_client_set_complete_fn(gc, gj_on_complete);
	gearman_client_set_fail_fn(gc, gj_on_fail);
	gearman_client_set_exception_fn(gc, gj_on_exception);
	gearman_client_add_options(gc, GEARMAN_CLIENT_EXCEPTION);
	return gc;
}

/* Runs one gearman job. Returns the eMQP answer: "REPLY" with the result
 * JSON in *out, or an ERROR code with its text in *out. */
static const char *
gslot_run(bridge_t *b, gearman_client_st **gcp, const char *fn, const char *w, size_t wlen,
          long timeout_ms, char **out, size_t *outlen)
{
	gj_t j = {GJ_NONE, 0, NULL, 0};
	gearman_return_t rc;
	gearman_task_st *task;
	const char *code;
	char err[512];

	if (*gcp == NULL && (*gcp = gclient_new(b, err, sizeof(err))) == NULL) {
		*out = gh_asprintf("not run: %s", err);
		*outlen = strlen(*out);
		return "not-run";
	}
	gearman_client_set_timeout(*gcp, timeout_ms > 0 ? (int)timeout_ms : -1);
	task = gearman_client_add_task(*gcp, NULL, &j, fn, NULL, w, wlen, &rc);
	if (task != NULL)
		rc = gearman_client_run_tasks(*gcp);
	if (task != NULL && rc == GEARMAN_SUCCESS && j.status != GJ_NONE) {
		if (j.status == GJ_DONE) {
			*out = bridge_result_to_json(j.data ? j.data : "", j.len, outlen);
			code = "REPLY";
		} else if (j.status == GJ_EXCEPTION) {
			*out = gh_asprintf("gearman function %s: %s", fn, j.data ? j.data : "");
			code = "job-failed";
		} else {
			*out = gh_asprintf("gearman function %s failed", fn);
			code = "job-failed";
		}
	} else {
		const char *why =
		    gearman_client_error(*gcp) ? gearman_client_error(*gcp) : gearman_strerror(rc);

		if (rc == GEARMAN_TIMEOUT && j.created) {
			*out = gh_asprintf("gearman function %s: no result within %ld ms", fn,
			                   timeout_ms);
			code = "timeout";
		} else if (!j.created) {
			/* Never reached gearmand: another job manager may run it. */
			*out = gh_asprintf("not run: gearman: %s", why);
			code = "not-run";
		} else {
			*out = gh_asprintf("gearman function %s: %s", fn, why);
			code = "job-failed";
		}
		/* The connection may hold a half-done task: start afresh. */
		gearman_client_task_free_all(*gcp);
		gearman_client_free(*gcp);
		*gcp = NULL;
	}
	if (*gcp != NULL)
		gearman_client_task_free_all(*gcp);
	if (strcmp(code, "REPLY") != 0)
		*outlen = strlen(*out);
	free(j.data);
	return code;
}

static void *
gslot_main(void *arg)
{
	gslot_t *s = arg;
	bridge_t *b = s->b;
	void *sock = zmq_socket(b->ctx, ZMQ_DEALER);
	gearman_client_st *gc = NULL;
	char id[BRIDGE_ID_LEN];
	int zero = 0;

	snprintf(id, sizeof(id), "g%d", s->index);
	zmq_setsockopt(sock, ZMQ_ROUTING_ID, id, strlen(id));
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(sock, BRIDGE_SLOTS) != 0) {
		log_error("slot %d: %s", s->index, zmq_strerror(zmq_errno()));
		zmq_close(sock);
		return NULL;
	}
	/* Hello: idle, nothing to report. */
	zmq_send(sock, "", 0, 0);
	for (;;) {
		gh_frame_t f[8], ans[4];
		wire_msg_t m;
		char ref[PROTO_MAX_MSGID + 1], fn[600], num[32], *w = NULL, *out = NULL, err[512];
		size_t n, wlen = 0, outlen = 0;
		long timeout_ms = 0;
		const char *code;

		if (wire_recv(sock, &m, 0, 0) != 0)
			break;
		n = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
		/* [ref, function, timeout_ms, gen, body]; an empty message: quit. */
		if (n != 5 || f[0].size > PROTO_MAX_MSGID || f[1].size >= sizeof(fn)) {
			wire_msg_close(&m);
			break;
		}
		memcpy(ref, f[0].data, f[0].size);
		ref[f[0].size] = '\0';
		memcpy(fn, f[1].data, f[1].size);
		fn[f[1].size] = '\0';
		if (f[2].size < sizeof(num)) {
			memcpy(num, f[2].data, f[2].size);
			num[f[2].size] = '\0';
			gh_parse_long(num, 0, LONG_MAX, &timeout_ms);
		}
		if (bridge_unwrap(f[4].data, f[4].size, &w, &wlen, err, sizeof(err)) == -1) {
			out = gh_strdup(err);
			outlen = strlen(out);
			code = "bad-job";
		} else {
			code = gslot_run(b, &gc, fn, w, wlen, timeout_ms, &out, &outlen);
		}
		ans[0] = f[0];
		ans[1] = f[3];
		ans[2] = gh_frame_str(code);
		ans[3] = (gh_frame_t){out, outlen};
		wire_send(sock, NULL, 0, ans, 4, 0);
		wire_msg_close(&m);
		free(w);
		free(out);
	}
	if (gc != NULL)
		gearman_client_free(gc);
	zmq_close(sock);
	return NULL;
}

/* ---- gearman -> ZeroMQ ---- */

static long
job_wait_ms(bridge_t *b)
{
	long t = __atomic_load_n(&b->timeout, __ATOMIC_RELAXED);

	/* The router answers timeout at the job's timeout plus a heartbeat
	 * timeout; give it room. No timeout: wait a day. */
	return t > 0 ? (t + 3 * __atomic_load_n(&b->hb_timeout_s, __ATOMIC_RELAXED) + 5) * 1000
	             : 86400L * 1000;
}

static void *
zw_job(gearman_job_st *job, void *context, size_t *result_size, gearman_return_t *ret_ptr)
{
	zroute_t *r = context;
	bridge_t *b = r->z->b;
	gearhorn_submit_opts_t o;
	char *body, *res = NULL, *out = NULL, err[1024];
	size_t blen, rlen = 0, outlen = 0;
	long t = __atomic_load_n(&b->timeout, __ATOMIC_RELAXED);
	int ok;

	body = bridge_wrap(r->in, gearman_job_workload(job), gearman_job_workload_size(job), &blen);
	gearhorn_submit_opts_init(&o);
	o.wait = 1;
	o.guarantee = __atomic_load_n(&b->guarantee, __ATOMIC_RELAXED);
	o.timeout = t > 0 ? t : -1;
	o.wait_ms = job_wait_ms(b);
	ok = gearhorn_submit(r->z->client, r->in->queue, body, blen, &o, &res, &rlen, err,
	                     sizeof(err)) == 0 &&
	     bridge_result_from_json(r->in, res, rlen, &out, &outlen, err, sizeof(err)) == 0;
	free(body);
	free(res);
	if (ok) {
		*result_size = outlen;
		*ret_ptr = GEARMAN_SUCCESS;
		return out;
	}
	log_info("%s -> %s: %s", r->in->function, r->in->queue, err);
	/* gearmand passes WORK_EXCEPTION only to clients that asked for
	 * exceptions and leaves the others waiting for ever: the reason goes
	 * as WORK_WARNING, which every client gets, then WORK_FAIL. */
	gearman_job_send_warning(job, err, strlen(err));
	*ret_ptr = GEARMAN_WORK_FAIL;
	r->z->failed = 1;
	*result_size = 0;
	return NULL;
}

/* The subscription thread: (re)makes the fanout subscriptions when due, at
 * start and every resubscribe_s seconds (a fanout worker may have lost
 * them, or they would lapse); about 5 seconds after a failure. */
static void
subscribe_all(bridge_t *b)
{
	uint64_t now = gh_now_ms();
	long period = __atomic_load_n(&b->resubscribe_s, __ATOMIC_RELAXED);
	char err[512];
	size_t i;

	if (now < b->sub_next_ms)
		return;
	/* Until it succeeds: again in a while. */
	b->sub_next_ms =
	    now +
	    (uint64_t)(period < BRIDGE_RESUBSCRIBE_RETRY_S ? period : BRIDGE_RESUBSCRIBE_RETRY_S) *
	        1000;
	if (b->sub_client == NULL && (b->sub_client = gclient_new(b, err, sizeof(err))) == NULL) {
		log_warn("subscribe: %s", err);
		return;
	}
	gearman_client_set_timeout(b->sub_client, 5000);
	for (i = 0; i < b->ntopics; i++) {
		json_t *j =
		    json_pack("{s:s,s:s}", "topic", b->topics[i], "client_id", b->subscriber);
		char *s = json_dumps(j, JSON_COMPACT);
		gearman_return_t rc;
		size_t len;
		void *res = gearman_client_do(b->sub_client, "subscribe_fanout", NULL, s, strlen(s),
		                              &len, &rc);

		free(res);
		free(s);
		json_decref(j);
		if (rc != GEARMAN_SUCCESS) {
			log_warn("subscribe_fanout %s as %s: %s; trying again", b->topics[i],
			         b->subscriber,
			         gearman_client_error(b->sub_client)
			             ? gearman_client_error(b->sub_client)
			             : gearman_strerror(rc));
			gearman_client_free(b->sub_client);
			b->sub_client = NULL;
			return;
		}
		if (!b->subscribed)
			log_notice("subscribed to %s as %s", b->topics[i], b->subscriber);
	}
	if (b->subscribed)
		log_debug("subscriptions renewed; next in %ld s", period);
	b->subscribed = 1;
	b->sub_next_ms = now + (uint64_t)period * 1000;
}

static void
zw_sleep(bridge_t *b, long ms)
{
	while (ms > 0 && !__atomic_load_n(&b->zstop, __ATOMIC_ACQUIRE)) {
		long step = ms < 100 ? ms : 100;
		struct timespec ts = {0, step * 1000000L};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static void *
sub_main(void *arg)
{
	bridge_t *b = arg;

	while (!__atomic_load_n(&b->zstop, __ATOMIC_ACQUIRE)) {
		subscribe_all(b);
		zw_sleep(b, 1000);
	}
	if (b->sub_client != NULL)
		gearman_client_free(b->sub_client);
	b->sub_client = NULL;
	return NULL;
}

/* Tells the main loop that this thread is done (a message on the slots
 * socket from a socket of its own). */
static void
zw_bye(bridge_t *b, int index)
{
	void *s = zmq_socket(b->ctx, ZMQ_DEALER);
	char id[BRIDGE_ID_LEN];
	int linger = 1000;

	snprintf(id, sizeof(id), "z%d", index);
	zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(s, BRIDGE_SLOTS) == 0)
		zmq_send(s, "bye", 3, 0);
	zmq_close(s);
}

static void *
zw_main(void *arg)
{
	zworker_t *z = arg;
	bridge_t *b = z->b;
	gearman_return_t last = GEARMAN_SUCCESS;
	int trouble = 0;

	while (!__atomic_load_n(&b->zstop, __ATOMIC_ACQUIRE)) {
		gearman_return_t rc;

		rc = gearman_worker_work(z->worker);
		/* After a job that ended with WORK_FAIL, libgearman reports
		 * that job's failure (GEARMAN_WORK_FAIL, or in 1.1.20
		 * GEARMAN_UNKNOWN_STATE): the connection is fine. */
		if (z->failed && (rc == GEARMAN_WORK_FAIL || rc == GEARMAN_UNKNOWN_STATE))
			rc = GEARMAN_SUCCESS;
		z->failed = 0;
		if (rc == GEARMAN_SUCCESS || rc == GEARMAN_TIMEOUT || rc == GEARMAN_IO_WAIT) {
			if (trouble && rc == GEARMAN_SUCCESS)
				log_notice("gearman worker %d: serving jobs again", z->index);
			trouble = rc == GEARMAN_SUCCESS ? 0 : trouble;
			z->backoff = 0;
			continue;
		}
		z->backoff = backoff_next(z->backoff);
		log_msg(rc != last || !trouble ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG,
		        "gearman worker %d: %s; retrying in %ld ms", z->index,
		        gearman_worker_error(z->worker) ? gearman_worker_error(z->worker)
		                                        : gearman_strerror(rc),
		        z->backoff);
		trouble = 1;
		last = rc;
		zw_sleep(b, z->backoff);
	}
	zw_bye(b, z->index);
	return NULL;
}

static int
zw_init(bridge_t *b, zworker_t *z, const char *frontends, char *err, size_t errlen)
{
	char host[256];
	size_t i;
	int port;

	z->b = b;
	if ((z->worker = gearman_worker_create(NULL)) == NULL)
		return gh_err(err, errlen, "cannot create a gearman worker");
	gearman_worker_set_identifier(z->worker, b->identifier, strlen(b->identifier));
	gearman_worker_set_timeout(z->worker, BRIDGE_POLL_MS);
	for (i = 0; i < b->nservers; i++) {
		if (conf_parse_server(b->servers[i], host, sizeof(host), &port, err, errlen) < 0)
			return -1;
		if (gearman_worker_add_server(z->worker, host, (in_port_t)port) != GEARMAN_SUCCESS)
			return gh_err(err, errlen, "%s: %s", b->servers[i],
			              gearman_worker_error(z->worker));
	}
	z->routes = gh_calloc(b->nins, sizeof(*z->routes));
	for (i = 0; i < b->nins; i++) {
		z->routes[i].z = z;
		z->routes[i].in = &b->ins[i];
		if (gearman_worker_add_function(z->worker, b->ins[i].function, 0, zw_job,
		                                &z->routes[i]) != GEARMAN_SUCCESS)
			return gh_err(err, errlen, "cannot register %s: %s", b->ins[i].function,
			              gearman_worker_error(z->worker));
	}
	if ((z->client = client_new_in(b->ctx, frontends, err, errlen)) == NULL)
		return -1;
	return 0;
}

static void
zw_free(zworker_t *z)
{
	if (z->worker != NULL)
		gearman_worker_free(z->worker);
	gearhorn_client_destroy(&z->client);
	free(z->routes);
}

/* ---- ZeroMQ -> gearman: the main thread ---- */

static void
send_error(bridge_t *b, const char *ref, const char *code, const char *text, size_t len)
{
	peer_send_error(b->peer, ref, code, text, len);
}

/* Offers the router every idle slot, unless gearmand was unreachable a
 * moment ago. */
static void
advertise(bridge_t *b)
{
	if (!b->stopping && loop_now(b->loop) >= b->backoff_until)
		peer_offer(b->peer, b->nidle);
}

static int
on_backoff_over(loop_t *loop, uint64_t id, void *arg)
{
	bridge_t *b = arg;

	GH_UNUSED(id);
	b->backoff_timer = 0;
	/* A later not-run moved the end of the pause: wait for it. */
	if (loop_now(loop) < b->backoff_until)
		b->backoff_timer =
		    loop_add_timer(loop, b->backoff_until - loop_now(loop), 0, on_backoff_over, b);
	advertise(b);
	return 0;
}

static void
say_goodbye(bridge_t *b)
{
	if (b->peer != NULL && !b->said_goodbye) {
		b->said_goodbye = 1;
		peer_goodbye(b->peer);
	}
	loop_stop(b->loop);
}

static void
maybe_done(bridge_t *b)
{
	if (b->stopping && b->nidle == b->ngs && b->zrunning == 0) {
		log_info("all jobs ended, exiting");
		say_goodbye(b);
	}
}

/* gearmand could not be reached: no READY for a while, longer each time. */
static void
pause_ready(bridge_t *b)
{
	b->backoff_ms = backoff_next(b->backoff_ms);
	b->backoff_until = loop_now(b->loop) + (uint64_t)b->backoff_ms;
	if (b->backoff_timer == 0)
		b->backoff_timer =
		    loop_add_timer(b->loop, (uint64_t)b->backoff_ms, 0, on_backoff_over, b);
}

/* A slot's answer to job ref, sent on router connection gen: REPLY with
 * the result JSON, or an ERROR code with its text. */
static void
slot_answer(bridge_t *b, const char *ref, gh_frame_t gen, gh_frame_t code, gh_frame_t data)
{
	char now[32], c[32] = "job-failed", id[GH_UUID_LEN + 1];
	proto_msg_t r;

	snprintf(now, sizeof(now), "%lu", b->gen);
	if (gh_frame_is(code, "REPLY"))
		b->backoff_ms = 0;
	if (!gh_frame_is(gen, now) || b->peer == NULL) {
		log_info("job %s ended after its router connection was replaced; its answer is "
		         "dropped",
		         ref);
		return;
	}
	if (gh_frame_is(code, "REPLY")) {
		gh_uuid(id);
		proto_msg_init(&r, PROTO_REPLY, id);
		r.result = data;
		r.ref = gh_frame_str(ref);
		log_debug("job %s done", ref);
		peer_send(b->peer, &r);
		return;
	}
	if (code.size > 0 && code.size < sizeof(c)) {
		memcpy(c, code.data, code.size);
		c[code.size] = '\0';
	}
	log_info("job %s: %s: %.*s", ref, c, (int)data.size, (const char *)data.data);
	if (strcmp(c, "not-run") == 0 && !b->stopping)
		pause_ready(b);
	else
		b->backoff_ms = 0;
	send_error(b, ref, c, data.data, data.size);
}

/* A slot answered (or said hello), or a gearman worker thread ended. */
static int
on_slots(loop_t *loop, void *sock, int fd, short revents, void *arg)
{
	bridge_t *b = arg;
	gh_frame_t f[8];
	wire_msg_t m;
	size_t n;

	GH_UNUSED(loop);
	GH_UNUSED(fd);
	GH_UNUSED(revents);
	if (wire_recv(sock, &m, 0, ZMQ_DONTWAIT) != 0)
		return 0;
	n = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
	if (n == 2 && f[0].size > 0 && ((const char *)f[0].data)[0] == 'z') {
		b->zrunning--;
	} else if (n >= 2 && f[0].size < BRIDGE_ID_LEN && b->nidle < b->ngs) {
		memcpy(b->idle[b->nidle], f[0].data, f[0].size);
		b->idle[b->nidle][f[0].size] = '\0';
		b->nidle++;
		/* [id, ref, gen, code, data]; a hello has no ref. */
		if (n == 5 && f[1].size > 0 && f[1].size <= PROTO_MAX_MSGID) {
			char ref[PROTO_MAX_MSGID + 1];

			memcpy(ref, f[1].data, f[1].size);
			ref[f[1].size] = '\0';
			slot_answer(b, ref, f[2], f[3], f[4]);
		}
	}
	wire_msg_close(&m);
	advertise(b);
	maybe_done(b);
	return 0;
}

static const bridge_out_t *
route_out(bridge_t *b, gh_frame_t queue)
{
	size_t i;

	for (i = 0; i < b->nouts; i++)
		if (gh_frame_is(queue, b->outs[i].queue))
			return &b->outs[i];
	return NULL;
}

static void
handle_request(bridge_t *b, const proto_msg_t *m)
{
	char ref[PROTO_MAX_MSGID + 1], num[32], gen[32];
	const bridge_out_t *r;
	const char *slot;
	gh_frame_t f[5];
	long t;

	if (m->msgid.size > PROTO_MAX_MSGID)
		return;
	memcpy(ref, m->msgid.data, m->msgid.size);
	ref[m->msgid.size] = '\0';
	if (b->stopping) {
		send_error(b, ref, "not-run", "the bridge is shutting down", 27);
		return;
	}
	if ((r = route_out(b, m->queue)) == NULL) {
		char text[256];

		snprintf(text, sizeof(text), "queue \"%.*s\" is not bridged to gearman",
		         (int)(m->queue.size < 128 ? m->queue.size : 128), m->queue.data);
		send_error(b, ref, "bad-job", text, strlen(text));
		advertise(b);
		return;
	}
	if (b->nidle == 0) {
		/* More than we advertised (an EventMQ router may send so). */
		send_error(b, ref, "not-run", "no free slot in the bridge", 26);
		return;
	}
	slot = b->idle[--b->nidle];
	t = m->hdr.timeout > 0 ? m->hdr.timeout : b->timeout;
	snprintf(num, sizeof(num), "%ld", t * 1000);
	snprintf(gen, sizeof(gen), "%lu", b->gen);
	f[0] = gh_frame_str(ref);
	f[1] = gh_frame_str(r->function);
	f[2] = gh_frame_str(num);
	f[3] = gh_frame_str(gen);
	f[4] = m->body;
	log_debug("REQUEST %s queue %s -> gearman %s", ref, r->queue, r->function);
	if (wire_send(b->slots, slot, strlen(slot), f, 5, 0) != 0) {
		b->nidle++;
		send_error(b, ref, "not-run", "cannot reach a slot thread", 26);
	}
}

static void
on_message(peer_t *p, const proto_msg_t *m, const wire_msg_t *raw, const proto_err_t *perr,
           void *arg)
{
	bridge_t *b = arg;
	char t[256], c[64];

	GH_UNUSED(p);
	if (m == NULL || perr != NULL) {
		/* Too large or malformed: a REQUEST is refused by its msgid. */
		char ref[PROTO_MAX_MSGID + 1];
		const char *why = m == NULL ? "job too large" : perr->text;

		log_warn("%s message from the router%s%s", m == NULL ? "an oversized" : "a bad",
		         perr ? ": " : "", perr ? perr->text : "");
		if (peer_failed_request(m, raw, ref)) {
			send_error(b, ref, "bad-job", why, strlen(why));
			advertise(b);
		}
		return;
	}
	switch (m->cmd) {
	case PROTO_REQUEST:
		handle_request(b, m);
		break;
	case PROTO_ERROR:
		log_warn("router error %s: %s",
		         log_escape(m->code.data, m->code.size, c, sizeof(c)),
		         log_escape(m->text.data, m->text.size, t, sizeof(t)));
		break;
	default:
		log_debug("ignoring %s from the router", proto_cmd_name(m->cmd));
		break;
	}
}

static void
on_registered(peer_t *p, void *arg)
{
	bridge_t *b = arg;

	GH_UNUSED(p);
	advertise(b);
}

/* The jobs in flight belong to the old connection, whose router has
 * already requeued or failed them: their answers are dropped. */
static void
on_lost(peer_t *p, const char *why, void *arg)
{
	bridge_t *b = arg;

	GH_UNUSED(p);
	GH_UNUSED(why);
	b->gen++;
}

/* ---- signals and configuration ---- */

static int
on_stop_signal(loop_t *loop, int signo, void *arg)
{
	bridge_t *b = arg;

	if (b->stopping) {
		log_warn("signal %d again: exiting now (%zu jobs to gearman in flight)", signo,
		         b->ngs - b->nidle);
		b->forced = 1;
		say_goodbye(b);
		return 0;
	}
	b->stopping = 1;
	if (b->peer != NULL)
		peer_stop(b->peer);
	__atomic_store_n(&b->zstop, 1, __ATOMIC_RELEASE);
	log_notice("signal %d: stopping (%zu jobs to gearman in flight)", signo, b->ngs - b->nidle);
	GH_UNUSED(loop);
	maybe_done(b);
	return 0;
}

/* A command line option: the last one for a key wins. */
static void
set_override(bridge_t *b, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < b->noverrides && strcmp(b->overrides[i].key, key) != 0; i++)
		;
	b->overrides[i].key = key;
	b->overrides[i].value = value;
	if (i == b->noverrides)
		b->noverrides++;
}

static conf_t *
load_conf(bridge_t *b, char *err, size_t errlen)
{
	return conf_load_overrides(b->config_path, environ, SECTION, b->overrides, b->noverrides,
	                           err, errlen);
}

/* Subscriptions are renewed every BRIDGE_RESUBSCRIBE_S seconds, or three
 * times per [fanout] subscription_ttl when that is shorter (the fanout
 * worker reads the same file, as a rule). */
static long
resubscribe_period(const conf_t *c)
{
	long ttl = conf_get_int(c, "fanout", "subscription_ttl");

	if (ttl > 0 && ttl / 3 < BRIDGE_RESUBSCRIBE_S)
		return ttl / 3 > 0 ? ttl / 3 : 1;
	return BRIDGE_RESUBSCRIBE_S;
}

static void
apply_conf(bridge_t *b, const conf_t *c)
{
	log_level_t lv = LOG_LEVEL_INFO;

	log_level_parse(conf_get(c, SECTION, "log_level"), &lv);
	log_set_level(lv);
	__atomic_store_n(&b->timeout, conf_get_int(c, SECTION, "timeout"), __ATOMIC_RELAXED);
	__atomic_store_n(&b->guarantee, conf_get_bool(c, SECTION, "guarantee"), __ATOMIC_RELAXED);
	__atomic_store_n(&b->resubscribe_s, resubscribe_period(c), __ATOMIC_RELAXED);
}

static int
on_hup(loop_t *loop, int signo, void *arg)
{
	bridge_t *b = arg;
	char err[1024];
	conf_t *c;

	GH_UNUSED(loop);
	GH_UNUSED(signo);
	if ((c = load_conf(b, err, sizeof(err))) == NULL) {
		log_error("SIGHUP: configuration not reloaded: %s", err);
		return 0;
	}
	conf_destroy(&b->conf);
	b->conf = c;
	apply_conf(b, c);
	__atomic_store_n(&b->hb_timeout_s, conf_get_int(c, SECTION, "heartbeat_timeout"),
	                 __ATOMIC_RELAXED);
	if (b->peer != NULL)
		peer_set_heartbeat(b->peer, conf_get_int(c, SECTION, "heartbeat_interval") * 1000,
		                   conf_get_int(c, SECTION, "heartbeat_timeout") * 1000);
	log_notice("SIGHUP: reloaded log_level (%s), timeout (%ld s), guarantee and the heartbeat "
	           "settings; routes, servers and max_in_flight need a restart",
	           log_level_name(log_get_level()), b->timeout);
	return 0;
}

/* Reads the routes of the configuration. Returns 0, or -1 with err. */
static int
read_routes(bridge_t *b, char *err, size_t errlen)
{
	char **outs, **ins, **subs;
	size_t nouts, nins, nsubs, i;
	json_t *q;
	int rc = -1;

	outs = conf_get_list(b->conf, SECTION, "to_gearman", &nouts);
	ins = conf_get_list(b->conf, SECTION, "to_zeromq", &nins);
	subs = conf_get_list(b->conf, SECTION, "subscribe", &nsubs);
	b->subscriber = gh_strdup(conf_get(b->conf, SECTION, "subscriber"));
	b->outs = gh_calloc(nouts + 1, sizeof(*b->outs));
	b->ins = gh_calloc(nins + nsubs + 1, sizeof(*b->ins));
	b->topics = gh_calloc(nsubs + 1, sizeof(*b->topics));
	if (nouts + nins + nsubs == 0) {
		gh_err(err, errlen,
		       "nothing to bridge: to_gearman, to_zeromq and subscribe are empty");
		goto out;
	}
	if (nsubs > 0 && *b->subscriber == '\0') {
		gh_err(err, errlen, "subscribe needs a subscriber name");
		goto out;
	}
	q = json_array();
	for (i = 0; i < nouts; i++) {
		if (bridge_parse_out(outs[i], &b->outs[i], err, errlen) == -1) {
			json_decref(q);
			goto out;
		}
		b->nouts++;
		if (!proto_valid_name(b->outs[i].queue, strlen(b->outs[i].queue))) {
			gh_err(err, errlen, "to_gearman: bad queue name \"%.64s\"",
			       b->outs[i].queue);
			json_decref(q);
			goto out;
		}
		json_array_append_new(
		    q, json_pack("[Is]", (json_int_t)b->outs[i].weight, b->outs[i].queue));
	}
	b->queues_json = json_dumps(q, JSON_COMPACT);
	json_decref(q);
	for (i = 0; i < nins + nsubs; i++) {
		const char *item = i < nins ? ins[i] : subs[i - nins];

		if (bridge_parse_in(item, i < nins ? NULL : b->subscriber, &b->ins[i], err,
		                    errlen) == -1)
			goto out;
		b->nins++;
		if (!proto_valid_name(b->ins[i].queue, strlen(b->ins[i].queue))) {
			gh_err(err, errlen, "%s: bad queue name \"%.64s\"",
			       i < nins ? "to_zeromq" : "subscribe", b->ins[i].queue);
			goto out;
		}
		if (i >= nins)
			b->topics[b->ntopics++] = gh_strndup(item, strcspn(item, "="));
	}
	rc = 0;
out:
	conf_list_free(outs, nouts);
	conf_list_free(ins, nins);
	conf_list_free(subs, nsubs);
	return rc;
}

static void
free_routes(bridge_t *b)
{
	size_t i;

	for (i = 0; i < b->nouts; i++)
		bridge_out_free(&b->outs[i]);
	for (i = 0; i < b->nins; i++)
		bridge_in_free(&b->ins[i]);
	for (i = 0; i < b->ntopics; i++)
		free(b->topics[i]);
	free(b->outs);
	free(b->ins);
	free(b->topics);
	free(b->queues_json);
	free(b->subscriber);
}

/* ---- set-up ---- */

static int
bridge_run(bridge_t *b)
{
	char err[1024], host[64] = "localhost", *frontends = NULL, **backends = NULL;
	size_t nbackends = 0, i;
	long nthreads;
	int rc = EX_OK;

	b->loop = loop_new();
	loop_add_signal(b->loop, SIGTERM, on_stop_signal, b);
	loop_add_signal(b->loop, SIGINT, on_stop_signal, b);
	loop_add_signal(b->loop, SIGHUP, on_hup, b);
	signal(SIGPIPE, SIG_IGN);

	gethostname(host, sizeof(host) - 1);
	b->identifier = gh_asprintf("gearhorn-bridge_%s_%ld", host, (long)getpid());
	b->servers = conf_get_list(b->conf, SECTION, "gearman_servers", &b->nservers);
	b->hb_timeout_s = conf_get_int(b->conf, SECTION, "heartbeat_timeout");
	nthreads = conf_get_int(b->conf, SECTION, "max_in_flight");
	if (b->nservers == 0) {
		log_error("no gearman servers configured ([global] gearman_servers)");
		rc = EX_CONFIG;
		goto out;
	}
	for (i = 0; i < b->nservers; i++) {
		int port;

		if (conf_parse_server(b->servers[i], host, sizeof(host), &port, err, sizeof(err)) <
		    0) {
			log_error("%s", err);
			rc = EX_CONFIG;
			goto out;
		}
	}

	b->ctx = zmq_ctx_new();
	b->slots = b->ctx ? zmq_socket(b->ctx, ZMQ_ROUTER) : NULL;
	if (b->slots == NULL || zmq_bind(b->slots, BRIDGE_SLOTS) != 0) {
		log_error("inproc socket: %s", zmq_strerror(zmq_errno()));
		rc = EX_OSERR;
		goto out;
	}
	loop_add_socket(b->loop, b->slots, ZMQ_POLLIN, on_slots, b);

	if (b->nins > 0) {
		char **fe;
		size_t nfe;

		fe = conf_get_list(b->conf, SECTION, "router_frontend", &nfe);
		for (i = 0; i < nfe; i++)
			gh_list_append(&frontends, fe[i]);
		if (frontends == NULL)
			frontends = gh_strdup("");
		conf_list_free(fe, nfe);
		b->nzw = (size_t)nthreads;
		b->zw = gh_calloc(b->nzw, sizeof(*b->zw));
		for (i = 0; i < b->nzw; i++) {
			b->zw[i].index = (int)i;
			if (zw_init(b, &b->zw[i], frontends, err, sizeof(err)) == -1) {
				log_error("%s", err);
				rc = EX_CONFIG;
				goto out;
			}
		}
	}
	if (b->nouts > 0) {
		peer_config_t pc;

		backends = conf_get_list(b->conf, SECTION, "router_backend", &nbackends);
		if (nbackends == 0) {
			log_error("[bridge] router_backend: no endpoint given");
			rc = EX_CONFIG;
			goto out;
		}
		memset(&pc, 0, sizeof(pc));
		pc.type = "worker";
		pc.queues = b->queues_json;
		pc.endpoints = backends;
		pc.nendpoints = nbackends;
		pc.hb_interval_ms = conf_get_int(b->conf, SECTION, "heartbeat_interval") * 1000;
		pc.hb_timeout_ms = b->hb_timeout_s * 1000;
		pc.max_message = BRIDGE_MAX_MESSAGE;
		pc.hwm = BRIDGE_HWM;
		pc.message = on_message;
		pc.registered = on_registered;
		pc.lost = on_lost;
		pc.arg = b;
		if ((b->peer = peer_new(b->loop, b->ctx, &pc, err, sizeof(err))) == NULL) {
			log_error("%s", err);
			rc = EX_CONFIG;
			goto out;
		}
		b->ngs = (size_t)nthreads;
		b->gs = gh_calloc(b->ngs, sizeof(*b->gs));
		b->idle = gh_calloc(b->ngs, sizeof(*b->idle));
	}

	/* Threads last: they inherit the signal mask that loop_add_signal set. */
	for (i = 0; i < b->ngs; i++) {
		b->gs[i].b = b;
		b->gs[i].index = (int)i;
		if (pthread_create(&b->gs[i].thread, NULL, gslot_main, &b->gs[i]) != 0) {
			log_error("cannot start a thread");
			rc = EX_OSERR;
			goto out;
		}
		b->gs[i].started = 1;
	}
	for (i = 0; i < b->nzw; i++) {
		if (pthread_create(&b->zw[i].thread, NULL, zw_main, &b->zw[i]) != 0) {
			log_error("cannot start a thread");
			rc = EX_OSERR;
			goto out;
		}
		b->zw[i].started = 1;
		b->zrunning++;
	}
	if (b->ntopics > 0) {
		if (pthread_create(&b->sub_thread, NULL, sub_main, b) != 0) {
			log_error("cannot start a thread");
			rc = EX_OSERR;
			goto out;
		}
		b->sub_started = 1;
	}
	log_notice("started: to gearman %s, to ZeroMQ %zu functions, %ld jobs in flight each way, "
	           "gearman %s",
	           b->nouts ? b->queues_json : "-", b->nins, nthreads,
	           conf_get(b->conf, SECTION, "gearman_servers"));
	if (loop_run(b->loop) == -1) {
		log_error("event loop: %s", zmq_strerror(errno));
		rc = EX_SOFTWARE;
	}
	log_notice("stopped");
out:
	if (b->forced) {
		/* Threads may be inside gearman calls and read the
		 * configuration: end the process without freeing anything.
		 * gearmand requeues the jobs of the workers that vanish. */
		struct timespec ts = {0, 200 * 1000000L};

		nanosleep(&ts, NULL); /* lets the I/O thread send the KBYE */
		log_close();
		_exit(rc);
	}
	__atomic_store_n(&b->zstop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < b->ngs; i++)
		if (b->gs[i].started) {
			/* An empty message: quit (after the job in hand). */
			char id[BRIDGE_ID_LEN];
			gh_frame_t quit = {"", 0};

			snprintf(id, sizeof(id), "g%d", b->gs[i].index);
			wire_send(b->slots, id, strlen(id), &quit, 1, 0);
		}
	for (i = 0; i < b->ngs; i++)
		if (b->gs[i].started)
			pthread_join(b->gs[i].thread, NULL);
	for (i = 0; i < b->nzw; i++) {
		if (b->zw[i].started)
			pthread_join(b->zw[i].thread, NULL);
		zw_free(&b->zw[i]);
	}
	if (b->sub_started)
		pthread_join(b->sub_thread, NULL);
	/* Let the last answers and the KBYE reach the router. */
	peer_destroy(&b->peer, 2000);
	if (b->slots != NULL) {
		loop_remove_socket(b->loop, b->slots);
		zmq_close(b->slots);
	}
	if (b->ctx != NULL)
		zmq_ctx_term(b->ctx);
	loop_destroy(&b->loop);
	conf_list_free(b->servers, b->nservers);
	conf_list_free(backends, nbackends);
	free(frontends);
	free(b->identifier);
	free(b->gs);
	free(b->idle);
	free(b->zw);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: gearhorn-bridge [-hV] [-c file] [-l level] [-s host:port ...]\n"
	        "  -c, --config FILE      configuration file (default %s)\n"
	        "  -s, --server H:P       gearman job server; repeatable ([global] "
	        "gearman_servers)\n"
	        "  -l, --log-level LEVEL  error, warn, notice, info or debug\n"
	        "  -h, --help             show this help\n"
	        "  -V, --version          show the version\n",
	        conf_default_path());
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},    {"server", required_argument, NULL, 's'},
	    {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0}};
	bridge_t b;
	char err[1024];
	int c, rc;

	memset(&b, 0, sizeof(b));
	log_open("gearhorn-bridge", LOG_LEVEL_INFO, 0);
	while ((c = getopt_long(argc, argv, "c:s:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			b.config_path = optarg;
			break;
		case 's':
			gh_list_append(&b.servers_opt, optarg);
			set_override(&b, "gearman_servers", b.servers_opt);
			break;
		case 'l':
			set_override(&b, "log_level", optarg);
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("gearhorn-bridge %s (protocol %s)\n", PACKAGE_VERSION,
			       PROTO_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			free(b.servers_opt);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		free(b.servers_opt);
		return EX_USAGE;
	}
	if ((b.conf = load_conf(&b, err, sizeof(err))) == NULL ||
	    read_routes(&b, err, sizeof(err)) == -1) {
		fprintf(stderr, "gearhorn-bridge: %s\n", err);
		free_routes(&b);
		conf_destroy(&b.conf);
		free(b.servers_opt);
		return EX_CONFIG;
	}
	log_open("gearhorn-bridge", LOG_LEVEL_INFO,
	         strcmp(conf_get(b.conf, SECTION, "log_target"), "syslog") == 0);
	apply_conf(&b, b.conf);
	rc = bridge_run(&b);
	free_routes(&b);
	conf_destroy(&b.conf);
	free(b.servers_opt);
	log_close();
	return rc;
}
