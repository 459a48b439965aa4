/*
 * pool.h: the job manager's prefork pool of worker processes (after tmux's
 * job.c): one struct per worker with a state, the parent's end of a
 * socketpair registered in the loop, SIGCHLD read from the loop and reaped
 * with waitpid(WNOHANG) until nothing is left. Knows nothing of ZeroMQ.
 *
 * A worker is idle, busy (one job), or on its way out (recycled after
 * max_jobs jobs, killed after a timeout, or dead); every worker that leaves
 * while the pool runs is replaced at once.
 */
#ifndef GEARHORN_JM_POOL_H
#define GEARHORN_JM_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"

#define POOL_MAX_REF 128 /* bytes, a job reference (the request msgid) */

typedef enum {
	POOL_OK = 0,     /* text is the result json {"value": ...} */
	POOL_JOB_FAILED, /* the handler failed; text is its message */
	POOL_BAD_JOB,    /* the job was refused; text says why */
	POOL_TIMEOUT,    /* the worker was killed after the job's timeout */
	POOL_CRASHED     /* the worker process died during the job */
} pool_status_t;

typedef struct pool pool_t;

/* A job ended. ref is the reference given to pool_submit; text (len bytes,
 * NUL-terminated) as described for the status. Both borrowed, valid during
 * the call. The worker is already counted idle (or replaced) when this
 * runs; the idle callback follows. */
typedef void(pool_done_fn)(pool_t *p, const char *ref, pool_status_t st, const char *text,
                           size_t len, void *arg);
/* A worker became idle: a job ended, or a new worker started. */
typedef void(pool_idle_fn)(pool_t *p, void *arg);

typedef struct {
	size_t workers;        /* worker processes (concurrent_jobs) */
	long max_jobs;         /* jobs per worker process; 0: no limit */
	char *const *dirs;     /* handler directories (borrowed during pool_new) */
	size_t ndirs;          /* */
	char *const *programs; /* "name=/path" items (borrowed during pool_new) */
	size_t nprograms;      /* */
	pool_done_fn *done;    /* required */
	pool_idle_fn *idle;    /* may be NULL */
	void *arg;             /* passed to the callbacks, borrowed */
} pool_config_t;

/* Creates the pool and forks its workers; registers SIGCHLD on loop (which
 * is borrowed and must outlive the pool). Returns NULL with err on failure
 * (a bad programs item, fork failing for the first worker). Caller owns the
 * result. */
pool_t *pool_new(loop_t *loop, const pool_config_t *cfg, char *err, size_t errlen);

/* Kills (SIGKILL) and reaps every worker without reporting their jobs, and
 * frees *self_p. Accepts NULL and clears it. */
void pool_destroy(pool_t **self_p);

/* Hands a job to an idle worker: body (len bytes, copied), ref (copied, at
 * most POOL_MAX_REF bytes), timeout_ms (0: no limit). Returns 0, or -1 when
 * no worker is idle or the body is larger than HANDLER_MAX_TEXT. */
int pool_submit(pool_t *p, const char *ref, const char *body, size_t len, uint64_t timeout_ms);

/* Workers that are idle / running a job. */
size_t pool_idle(const pool_t *p);
size_t pool_busy(const pool_t *p);

/* Stops replacing workers that leave (shutdown). */
void pool_stop(pool_t *p);

/* Kills every busy worker and reports its job as POOL_CRASHED with text. */
void pool_kill_busy(pool_t *p, const char *text);

#endif
