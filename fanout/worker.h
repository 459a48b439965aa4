/*
 * worker.h: one gearhorn-fanout worker: a gearman worker connection that
 * serves subscribe_fanout, register_fanout_subscriber, unsubscribe_fanout
 * and fanout, a gearman client connection that submits the copies, and a
 * connection to the subscriber store. See gearhorn-fanout(8) for the
 * functions, their JSON and their results.
 *
 * A fanout_t belongs to one thread; run several (each with its own
 * fanout_t) for several threads. They may share one cache_t.
 */
#ifndef GEARHORN_FANOUT_WORKER_H
#define GEARHORN_FANOUT_WORKER_H

#include <signal.h>
#include <stddef.h>

#include "cache.h"
#include "conf.h"

typedef struct fanout fanout_t;

/* What a job ends with. */
typedef enum {
	FANOUT_COMPLETE, /* WORK_COMPLETE with the result */
	FANOUT_EXCEPTION /* WORK_EXCEPTION with the result as its text */
} fanout_status_t;

/* Returns the subscriber database path that conf names: [fanout] database,
 * or <state_dir>/fanout.db if that is empty. Caller owns the result. */
char *fanout_db_path(const conf_t *conf);

/* Creates a worker from conf ([global] gearman_servers, [fanout]
 * foreground_timeout, subscription_ttl, matchmaking_ttl) that opens the
 * store at db_path and uses cache (NULL: no cache).
 *
 * instance (NULL: no matchmaking) names the process for matchmaking: the
 * worker keeps the subscription (__matchmaking, instance) alive in the
 * store while it runs, serves the function __matchmaking_<instance> by
 * dropping the named topic from cache, and after each change of a topic's
 * subscribers submits the topic name to every other __matchmaking
 * subscriber. Threads of one process share one instance and one cache.
 *
 * conf, db_path, cache and instance are borrowed; cache must outlive the
 * worker. Connections to gearmand are made lazily, so a job server that is
 * down is no error here. Caller owns the result (fanout_destroy); NULL on
 * error with the reason in err. */
fanout_t *fanout_new(const conf_t *conf, const char *db_path, cache_t *cache, const char *instance,
                     char *err, size_t errlen);

/* Applies the settings of conf that may change while the worker runs:
 * [fanout] foreground_timeout and subscription_ttl, from the next job on.
 * Safe to call from another thread than the one in fanout_run. conf is
 * borrowed. */
void fanout_reconfigure(fanout_t *f, const conf_t *conf);

/* Frees *self_p and sets it to NULL. Accepts NULL and a pointer to NULL. */
void fanout_destroy(fanout_t **self_p);

/* Serves jobs until *stop becomes nonzero (read atomically, so that another
 * thread may set it with __atomic_store_n; checked at least once a second
 * and between jobs); the job in hand is always finished first. Losing the
 * job server is logged and retried with a backoff of up to 5 seconds.
 * Between jobs, sweeps expired subscriptions from the store once a minute
 * and renews the matchmaking subscription. On the way out, removes the
 * matchmaking subscription. Returns 0 when stopped. */
int fanout_run(fanout_t *f, volatile sig_atomic_t *stop);

/* Runs one job of function fn (NUL-terminated) with the given workload, as
 * fanout_run does for a job from gearmand. Sets *out / *outlen to the
 * result or exception text (caller owns *out, which may be NULL when
 * *outlen is 0). Every bad input gives FANOUT_EXCEPTION with a message and
 * one warning in the log. */
fanout_status_t fanout_handle(fanout_t *f, const char *fn, const void *data, size_t len, char **out,
                              size_t *outlen);

/* Reads a workload of function fn (NUL-terminated) as fanout_handle does
 * before it touches the store or gearmand: the JSON, and the type and the
 * limits of every key. len bytes at data, borrowed. Needs no worker, so it
 * may run in any thread. Returns 0 if fanout_handle would act on the
 * workload, or -1 with the message fanout_handle would answer in msg. */
int fanout_check_workload(const char *fn, const void *data, size_t len, char *msg, size_t msglen);

#endif
