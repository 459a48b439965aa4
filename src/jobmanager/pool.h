/*
 * pool.h: the job manager's prefork pool of worker processes (after tmux's
 * job.c): one struct per worker with its jobs, the parent's end of a
 * socketpair registered in the loop, SIGCHLD read from the loop and reaped
 * with waitpid(WNOHANG) until nothing is left. Knows nothing of ZeroMQ.
 *
 * The pool owns every job until it ends: the jobs no worker holds yet wait
 * in one line, first in, first out (a prefetch), and a worker holds up to
 * depth jobs: the one it runs and those queued behind it, which it runs in
 * order. A worker is live or on its way out (recycled after max_jobs jobs,
 * killed after a timeout, or dead); every worker that leaves while the pool
 * runs is replaced at once, and the jobs queued behind it go back to the
 * head of the line. Jobs handed to workers during one pass of the loop leave
 * in one write per worker, from the loop's prepare hook (loop_set_prepare,
 * which the pool takes for itself). Workers die with the process that
 * created the pool, however it ends.
 */
#ifndef GEARHORN_JM_POOL_H
#define GEARHORN_JM_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "loop.h"
#include "util.h"

#define POOL_MAX_REF   128 /* bytes, a job reference (the request msgid) */
#define POOL_MAX_DEPTH 64  /* jobs one worker may hold */

typedef enum {
	POOL_OK = 0,     /* text is the result json {"value": ...} */
	POOL_JOB_FAILED, /* the handler failed; text is its message */
	POOL_BAD_JOB,    /* the job was refused; text says why */
	POOL_TIMEOUT,    /* the worker was killed after the job's deadline */
	POOL_CRASHED     /* the worker process died during the job */
} pool_status_t;

typedef struct pool pool_t;

/* A job ended. ref is the reference given to pool_submit; text (len bytes,
 * NUL-terminated) as described for the status. Both borrowed, valid during
 * the call. The pool has already let go of the job when this runs; the
 * freed callback follows. */
typedef void(pool_done_fn)(pool_t *p, const char *ref, pool_status_t st, const char *text,
                           size_t len, void *arg);
/* A job comes back unstarted because the pool stops (pool_stop): the
 * waiting ones at once, in their order, and those queued on a worker when
 * the worker reaches them or dies. It comes with what was given to
 * pool_submit (borrowed, valid during the call; body is NUL-terminated after
 * its len bytes). */
typedef void(pool_return_fn)(pool_t *p, const char *ref, const char *body, size_t len,
                             uint64_t deadline_ms, void *arg);
/* A slot came free: a job ended or came back, or a worker started. */
typedef void(pool_freed_fn)(pool_t *p, void *arg);

typedef struct {
	size_t workers;          /* worker processes (concurrent_jobs) */
	size_t depth;            /* jobs one worker may hold; 0 means 1 */
	size_t max_waiting;      /* jobs waiting for a worker; 0: none wait */
	long max_jobs;           /* jobs per worker process; 0: no limit */
	char *const *dirs;       /* handler directories (borrowed during pool_new) */
	size_t ndirs;            /* */
	char *const *programs;   /* "name=/path" items (borrowed during pool_new) */
	size_t nprograms;        /* */
	pool_done_fn *done;      /* required */
	pool_return_fn *returns; /* required */
	pool_freed_fn *freed;    /* may be NULL */
	void *arg;               /* passed to the callbacks, borrowed */
} pool_config_t;

/* Creates the pool and forks its workers; registers SIGCHLD and the prepare
 * hook on loop (which is borrowed and must outlive the pool). Caller owns
 * the result. Returns NULL with the status and the message in e: EX_CONFIG
 * for a bad programs item; EX_OSERR when the shared page cannot be mapped,
 * SIGCHLD cannot be watched or a worker cannot be started. */
pool_t *pool_new(loop_t *loop, const pool_config_t *cfg, gh_error_t *e);

/* Kills (SIGKILL) and reaps every worker without reporting their jobs, and
 * frees *self_p. Accepts NULL and clears it. */
void pool_destroy(pool_t **self_p);

/* Takes a job: hands it to a worker (an idle one if there is one, else the
 * live one with the fewest jobs below depth) or, when none has room, puts
 * it at the end of the waiting line. body (len bytes) and ref (at most
 * POOL_MAX_REF bytes) are copied. deadline_ms is the loop time (loop_now) by
 * which the job must end, 0 for none: it counts from now, waiting included;
 * a worker whose running job passes it is killed, and a job that waited past
 * it is not run but ends as POOL_TIMEOUT when its turn comes. Returns 0, or
 * -1 when the pool stops, the body is larger than HANDLER_MAX_TEXT or no
 * worker has room and max_waiting jobs wait. */
int pool_submit(pool_t *p, const char *ref, const char *body, size_t len, uint64_t deadline_ms);

/* Live workers without a job. */
size_t pool_idle(const pool_t *p);
/* Jobs the pool holds: running, queued behind a running one, or waiting. */
size_t pool_jobs(const pool_t *p);
/* Live workers (not on their way out). */
size_t pool_live(const pool_t *p);

/* For a shutdown: stops replacing workers that leave, takes no more jobs,
 * and tells every worker to start nothing more. Running jobs end as usual;
 * each job not yet started comes back through the returns callback, the
 * waiting ones before this returns. */
void pool_stop(pool_t *p);

/* Forgets the jobs taken so far that no worker has started: the waiting
 * ones are dropped at once, workers skip the others and the pool drops
 * them; none is reported (their router connection is gone and that router
 * requeues or fails them itself). Running jobs go on and are reported as
 * usual. Returns how many waiting jobs were dropped. */
size_t pool_forget_queued(pool_t *p);

/* Kills every worker that holds a job: its running job is reported as
 * POOL_CRASHED with text, the jobs queued behind it go back to the head of
 * the waiting line (or, once the pool stops, to the caller). */
void pool_kill_busy(pool_t *p, const char *text);

#endif
