/*
 * bridge_int.h: the state of gearhorn-bridge(8) and the calls between its
 * files. Nothing outside bridge/ includes it.
 *
 *   main.c       start-up: options, configuration, routes, bridge_run()
 *   backend.c    the main thread: the peer on the router backends (REQUEST
 *                in, READY out), the inproc slots socket, the stop
 *   gslot.c      ZeroMQ -> gearman: slot threads, one gearman job each
 *   zworker.c    gearman -> ZeroMQ: worker threads, gearman jobs sent as
 *                REQUESTs through the router frontends
 *   subscribe.c  the fanout subscriptions, renewed by a thread of their own
 *
 * Threads. The main thread owns everything not said otherwise below. What
 * the other threads read is either set before they start and constant
 * after, or read and written with __atomic builtins (marked "atomic").
 */
#ifndef GEARHORN_BRIDGE_INT_H
#define GEARHORN_BRIDGE_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libgearman/gearman.h>

#include "conf.h"
#include "gearhorn.h"
#include "loop.h"
#include "map.h"
#include "peer.h"
#include "startup.h"
#include "util.h"

#define BRIDGE_SECTION     "bridge"
#define BRIDGE_SLOTS       "inproc://gearhorn-bridge-slots"
#define BRIDGE_ID_LEN      16 /* routing ids on BRIDGE_SLOTS: "g<n>" slots, "z<n>" workers */
#define BRIDGE_BACKOFF_MIN 100
#define BRIDGE_BACKOFF_MAX 10000

typedef struct bridge bridge_t;

/* A gearman -> ZeroMQ route as a worker thread sees it. */
typedef struct {
	struct zworker *z;
	const bridge_in_t *in;
} zroute_t;

/* A thread that serves gearman functions by sending their jobs to ZeroMQ.
 * Owned by bridge_t.zw; after zw_setup() only its own thread touches it,
 * until zw_join(). */
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

/* A thread that runs ZeroMQ jobs as gearman jobs, one at a time. Owned by
 * bridge_t.gs. */
typedef struct {
	bridge_t *b;
	int index;
	pthread_t thread;
	int started;
} gslot_t;

struct bridge {
	startup_t *startup; /* the options, kept to load conf again on SIGHUP (main.c) */

	/* Configuration. conf is replaced on SIGHUP: no other thread reads it. */
	conf_t *conf;
	char **servers; /* constant while threads run */
	size_t nservers;
	char *identifier;  /* constant while threads run */
	long nthreads;     /* max_in_flight: slots, and workers */
	long timeout;      /* atomic; seconds; 0: no limit (written on SIGHUP) */
	long hb_timeout_s; /* atomic; seconds (written on SIGHUP) */
	int guarantee;     /* atomic (written on SIGHUP) */

	/* Routes (read_routes), constant while threads run. */
	bridge_out_t *outs;
	size_t nouts;
	char *queues_json;
	bridge_in_t *ins; /* to_zeromq, then subscribe */
	size_t nins;
	char **topics; /* subscribe: TOPIC of ins[nins - ntopics + i] */
	size_t ntopics;
	char *subscriber; /* a copy: SIGHUP replaces conf */

	loop_t *loop;
	void *ctx;   /* shared by the sockets of every thread */
	void *slots; /* ROUTER on BRIDGE_SLOTS: gslot and zworker threads connect */
	peer_t *peer;

	/* ZeroMQ -> gearman */
	gslot_t *gs;
	size_t ngs;
	char (*idle)[BRIDGE_ID_LEN]; /* identities of idle slots, a stack */
	size_t nidle;                /* said hello or answered, and not sent a job since */
	unsigned long gen;           /* router connection; answers of older ones are dropped */
	uint64_t backoff_until;      /* no READY before (gearmand was unreachable) */
	long backoff_ms;
	uint64_t backoff_timer;

	/* gearman -> ZeroMQ */
	zworker_t *zw;
	size_t nzw, zrunning; /* zrunning: worker threads that have not said bye */
	int zstop;            /* atomic: worker and subscription threads end */

	/* The fanout subscriptions: a thread of their own, so that no job
	 * delays their renewal. The fields but resubscribe_s belong to that
	 * thread while it runs. */
	pthread_t sub_thread;
	int sub_started;
	gearman_client_st *sub_client; /* to b->servers[sub_server] */
	size_t sub_server;
	int subscribed;       /* at least once */
	uint64_t sub_next_ms; /* when to make them again */
	long resubscribe_s;   /* atomic: the renewal period (written on SIGHUP) */

	int stopping, said_goodbye, forced;
};

/* The next wait after a failure: BRIDGE_BACKOFF_MIN, then doubling up to
 * BRIDGE_BACKOFF_MAX. */
static inline long
backoff_next(long ms)
{
	ms = ms == 0 ? BRIDGE_BACKOFF_MIN : ms * 2;
	return ms > BRIDGE_BACKOFF_MAX ? BRIDGE_BACKOFF_MAX : ms;
}

/* ---- backend.c: the main thread ---- */

/* Joins the router backends of [bridge] router_backend as a "worker" peer
 * for the queues of to_gearman, on b->loop and b->ctx; b->peer owns it.
 * Returns 0, or -1 with EX_CONFIG in e. */
int backend_open(bridge_t *b, gh_error_t *e);

/* The loop handler of b->slots (arg: b): a slot's hello or answer, or a
 * worker thread's bye. */
int backend_on_slots(loop_t *loop, void *sock, int fd, short revents, void *arg);

/* The loop handler of SIGTERM and SIGINT (arg: b): the first stops taking
 * jobs and lets those in flight end; the second says goodbye at once and
 * sets b->forced. */
int backend_on_stop(loop_t *loop, int signo, void *arg);

/* gearmand could not be reached: no READY for a while, longer each time. */
void backend_pause_ready(bridge_t *b);

/* ---- gslot.c: ZeroMQ -> gearman ---- */

/* A gearman client of b's identifier connected to job server
 * b->servers[server] only (one client per server, so that a dead server
 * fails no job another one ran), with the callbacks of a slot's jobs; or
 * NULL with err. Caller owns the result (gearman_client_free). Safe from
 * any thread. */
gearman_client_st *gclient_new(bridge_t *b, size_t server, char *err, size_t errlen);

/* Allocates b->nthreads slots and the idle stack (b->gs, b->idle), none
 * started; gslot_stop frees them. */
void gslot_alloc(bridge_t *b);

/* Starts the slot threads; each says hello on b->slots when ready. Returns
 * 0, or -1 when a thread cannot start (those started run on). */
int gslot_start(bridge_t *b);

/* Sends job ref of route r, with its body (borrowed) and timeout (ms, 0:
 * none), to an idle slot taken off the stack (b->nidle > 0). Returns 0,
 * or -1 with the slot back on the stack. */
int gslot_dispatch(bridge_t *b, const char *ref, const bridge_out_t *r, long timeout_ms,
                   gh_frame_t body);

/* A message from a slot on b->slots, f[0] its identity (all borrowed): the
 * slot becomes idle, and an answer goes to the router as REPLY or ERROR. */
void gslot_received(bridge_t *b, const gh_frame_t *f, size_t n);

/* Tells every started slot to quit after the job in hand, waits for them
 * and frees b->gs and b->idle. */
void gslot_stop(bridge_t *b);

/* ---- zworker.c: gearman -> ZeroMQ ---- */

/* Creates b->nthreads workers (b->zw), each registered for every function
 * of b->ins and with a client of [bridge] router_frontend. None started.
 * Returns 0, or -1 with EX_CONFIG in e (zw_join frees what was made). */
int zw_setup(bridge_t *b, gh_error_t *e);

/* Starts the worker threads. Each says bye on b->slots when it ends
 * (after b->zstop). Returns 0, or -1 when a thread cannot start. */
int zw_start(bridge_t *b);

/* Waits for the started workers (b->zstop must be set) and frees b->zw. */
void zw_join(bridge_t *b);

/* Sleeps ms, or less when b->zstop is set. */
void zw_sleep(bridge_t *b, long ms);

/* ---- subscribe.c: the fanout subscriptions ---- */

/* The renewal period of the subscriptions, in seconds, for configuration
 * c. */
long sub_period(const conf_t *c);

/* Starts the subscription thread when there are topics. Returns 0, or -1
 * when it cannot start. */
int sub_start(bridge_t *b);

/* Waits for the subscription thread, if started (b->zstop must be set). */
void sub_join(bridge_t *b);

#endif
