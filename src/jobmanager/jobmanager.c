/*
 * jobmanager.c: gearhorn-jobmanager(8). Connects one DEALER to a router
 * backend, INFORMs it of the queues it serves, advertises one READY per idle
 * worker and runs each REQUEST in the prefork pool (pool.h), answering with
 * REPLY (result) or ERROR, then READY for the freed slot. Start-up is the
 * kit's (startup.h); the queues are checked before the log opens, and the
 * CURVE keys read only once the worker processes have forked.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jansson.h>
#include <zmq.h>

#include "conf.h"
#include "handler.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "pool.h"
#include "proto.h"
#include "startup.h"
#include "util.h"
#include "wire.h"

#define SECTION        "jobmanager"
#define JM_HWM         100000
#define JM_MAX_WAITING 10000
#define JM_MAX_MESSAGE (16u * 1024 * 1024 + 65536)
#define JM_MAX_DEPTH   8 /* jobs one worker process holds, with prefetch */

static const startup_option_t jm_options[] = {
    {'r', "router", "LIST", "router", 0, "router backend endpoints, tried in order"},
    {'Q', "queues", "QUEUES", "queues", 0, "queues: [[20,\"email\"]] or 20:email,10:default"},
    {'j', "jobs", "N", "concurrent_jobs", 0, "worker processes (concurrent_jobs)"},
};
static const startup_program_t jm_program = {"gearhorn-jobmanager", SECTION, jm_options,
                                             GH_ARRAY_LEN(jm_options)};

typedef struct {
	startup_t *startup;
	conf_t *conf;
	loop_t *loop;
	void *ctx;
	peer_t *peer;
	pool_t *pool;
	char *queues_json; /* [jobmanager] queues as the INFORM JSON */
	long timeout;
	size_t prefetch; /* slots advertised beyond the worker processes */
	int stopping, said_goodbye;
	uint64_t grace_timer;
} jm_t;

/* Queues. */

/* Turns "[[20,\"email\"],[10,\"default\"]]", "20:email,10:default" or
 * "email reports" (weight 10) into the INFORM queues JSON. Caller owns the
 * result; NULL with EX_CONFIG "[jobmanager] queues: ..." in e on a bad
 * spec. */
static char *
queues_to_json(const char *spec, gh_error_t *e)
{
	proto_queue_t q[PROTO_MAX_INFORM_QUEUES];
	size_t n = 0, i;
	json_t *arr;
	char *out;
	const char *s = spec;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '[') {
		proto_err_t perr;
		gh_frame_t f = {s, strlen(s)};
		if (proto_parse_queues(f, q, GH_ARRAY_LEN(q), &n, &perr) == -1) {
			gh_error_set(e, EX_CONFIG, "[%s] queues: %s", SECTION, perr.text);
			return NULL;
		}
	} else {
		char *copy = gh_strdup(s), *save = NULL, *tok;
		for (tok = strtok_r(copy, ", \t", &save); tok != NULL;
		     tok = strtok_r(NULL, ", \t", &save)) {
			char *colon = strchr(tok, ':');
			long w = 10;
			if (n == GH_ARRAY_LEN(q)) {
				free(copy);
				gh_error_set(e, EX_CONFIG, "[%s] queues: more than %d queues",
				             SECTION, PROTO_MAX_INFORM_QUEUES);
				return NULL;
			}
			if (colon != NULL) {
				*colon = '\0';
				if (gh_parse_long(tok, 0, PROTO_MAX_QUEUE_WEIGHT, &w) == -1) {
					*colon = ':';
					colon = NULL; /* a name that contains ':' */
					w = 10;
				}
			}
			tok = colon ? colon + 1 : tok;
			if (!proto_valid_name(tok, strlen(tok)) ||
			    gh_strlcpy(q[n].name, tok, sizeof(q[n].name)) >= sizeof(q[n].name)) {
				/* tok points into copy. */
				gh_error_set(e, EX_CONFIG, "[%s] queues: bad queue name \"%.64s\"",
				             SECTION, tok);
				free(copy);
				return NULL;
			}
			q[n++].weight = w;
		}
		free(copy);
	}
	if (n == 0) {
		gh_error_set(e, EX_CONFIG, "[%s] queues: no queue given", SECTION);
		return NULL;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("[Is]", (json_int_t)q[i].weight, q[i].name));
	out = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return out;
}

/* Sending. */

static void
send_error(jm_t *jm, const char *ref, const char *code, const char *text)
{
	peer_send_error(jm->peer, ref, code, text, strlen(text));
}

/* Slots. */

/* Offers the router every free slot. The slots are one per live worker
 * process plus prefetch; a slot is taken by every job the pool holds,
 * running or waiting for a worker. */
static void
advertise(jm_t *jm)
{
	size_t slots = pool_live(jm->pool) + jm->prefetch;
	size_t taken = pool_jobs(jm->pool);

	peer_offer(jm->peer, slots > taken ? slots - taken : 0);
}

/* Pool callbacks. */

static void
on_done(pool_t *p, const char *ref, pool_status_t st, const char *text, size_t len, void *arg)
{
	jm_t *jm = arg;
	char id[GH_UUID_LEN + 1];
	proto_msg_t m;

	GH_UNUSED(p);
	switch (st) {
	case POOL_OK:
		gh_uuid(id);
		proto_msg_init(&m, PROTO_REPLY, id);
		m.result.data = text;
		m.result.size = len;
		m.ref = gh_frame_str(ref);
		log_debug("job %s done", ref);
		peer_send(jm->peer, &m);
		break;
	case POOL_JOB_FAILED:
		log_info("job %s failed: %s", ref, text);
		send_error(jm, ref, "job-failed", text);
		break;
	case POOL_BAD_JOB:
		log_info("job %s refused: %s", ref, text);
		send_error(jm, ref, "bad-job", text);
		break;
	case POOL_TIMEOUT:
		send_error(jm, ref, "timeout", text);
		break;
	case POOL_CRASHED:
		send_error(jm, ref, "crashed", text);
		break;
	}
}

/* The last word to the router, once no job of ours is in flight there:
 * REQUESTs that already arrived are refused as not-run (we are stopping),
 * then KBYE makes it fail or requeue whatever is still in transit. */
static void
say_goodbye(jm_t *jm)
{
	if (!jm->said_goodbye) {
		jm->said_goodbye = 1;
		peer_goodbye(jm->peer);
	}
	loop_stop(jm->loop);
}

/* A job the pool hands back unstarted as it stops: ERROR not-run, which
 * the router answers by queueing the job again (at the head of its queue,
 * without using one of its attempts). */
static void
on_returned(pool_t *p, const char *ref, const char *body, size_t len, uint64_t deadline_ms,
            void *arg)
{
	jm_t *jm = arg;

	GH_UNUSED(p);
	GH_UNUSED(body);
	GH_UNUSED(len);
	GH_UNUSED(deadline_ms);
	send_error(jm, ref, "not-run", "the job manager is shutting down");
}

static void
on_freed(pool_t *p, void *arg)
{
	jm_t *jm = arg;

	GH_UNUSED(p);
	advertise(jm);
	if (jm->stopping && pool_jobs(jm->pool) == 0) {
		log_info("all jobs ended, exiting");
		say_goodbye(jm);
	}
}

/* The router connection (peer.h). */

/* The router acknowledged our INFORM: every free slot is advertised anew. */
static void
on_registered(peer_t *p, void *arg)
{
	jm_t *jm = arg;

	GH_UNUSED(p);
	advertise(jm);
}

/* A new connection is coming: the jobs not started were the old router's,
 * whether they wait for a worker or on one; that router queues them again
 * or fails them itself. */
static void
on_lost(peer_t *p, const char *why, void *arg)
{
	jm_t *jm = arg;
	size_t n;

	GH_UNUSED(p);
	GH_UNUSED(why);
	if ((n = pool_forget_queued(jm->pool)) > 0)
		log_warn("dropping %zu jobs that had not started: their router connection is gone",
		         n);
}

static void
handle_request(jm_t *jm, const proto_msg_t *m)
{
	char ref[POOL_MAX_REF + 1];
	uint64_t timeout_ms, deadline_ms;

	if (m->msgid.size > POOL_MAX_REF)
		return;
	memcpy(ref, m->msgid.data, m->msgid.size);
	ref[m->msgid.size] = '\0';
	if (jm->stopping) {
		send_error(jm, ref, "not-run", "the job manager is shutting down");
		return;
	}
	if (m->body.size > HANDLER_MAX_TEXT) {
		send_error(jm, ref, "bad-job", "job too large");
		advertise(jm);
		return;
	}
	timeout_ms = (uint64_t)(m->hdr.timeout > 0 ? m->hdr.timeout : jm->timeout) * 1000;
	deadline_ms = timeout_ms > 0 ? loop_now(jm->loop) + timeout_ms : 0;
	log_debug("REQUEST %s queue %.*s", ref, (int)m->queue.size, m->queue.data);
	/* With no worker free (a prefetched job, or the router sent more than
	 * we advertised, as an EventMQ router may), it waits in the pool. */
	if (pool_submit(jm->pool, ref, m->body.data, m->body.size, deadline_ms) == -1)
		send_error(jm, ref, "job-failed",
		           "not run: no free worker and too many jobs waiting");
}

static void
on_message(peer_t *p, const proto_msg_t *m, const wire_msg_t *raw, const proto_err_t *perr,
           void *arg)
{
	jm_t *jm = arg;

	if (m == NULL || perr != NULL) {
		/* Too large or malformed: a REQUEST is refused by its msgid. */
		if (peer_refuse_failed(p, m, raw, perr))
			advertise(jm);
		return;
	}
	switch (m->cmd) {
	case PROTO_REQUEST:
		handle_request(jm, m);
		break;
	case PROTO_DISCONNECT:
		log_warn(
		    "ignoring DISCONNECT from the router (job managers only stop on a signal)");
		break;
	default:
		peer_log_ignored(m);
		break;
	}
}

/* Signals. */

static int
on_grace(loop_t *loop, uint64_t id, void *arg)
{
	jm_t *jm = arg;

	GH_UNUSED(id);
	jm->grace_timer = 0;
	log_warn("kill_grace_period over: killing %zu running jobs", pool_jobs(jm->pool));
	pool_kill_busy(jm->pool, "killed: the job manager stopped");
	GH_UNUSED(loop);
	say_goodbye(jm);
	return 0;
}

static int
on_stop_signal(loop_t *loop, int signo, void *arg)
{
	jm_t *jm = arg;
	long grace;

	if (jm->stopping) {
		log_warn("signal %d again: killing running jobs now", signo);
		on_grace(loop, 0, jm);
		return 0;
	}
	jm->stopping = 1;
	peer_stop(jm->peer);
	/* Jobs not started go back; running ones finish (their results reach
	 * the router before our KBYE). */
	pool_stop(jm->pool);
	log_notice("signal %d: stopping (%zu jobs running)", signo, pool_jobs(jm->pool));
	if (pool_jobs(jm->pool) == 0) {
		say_goodbye(jm);
		return 0;
	}
	grace = conf_get_int(jm->conf, SECTION, "kill_grace_period");
	jm->grace_timer = loop_add_timer(loop, (uint64_t)grace * 1000, 0, on_grace, jm);
	return 0;
}

/* SIGHUP: log_level, timeout and the heartbeat settings apply at once, and
 * kill_grace_period at the next stop; the keys of restart take a restart. */
static int
on_hup(loop_t *loop, int signo, void *arg)
{
	static const char *const restart[] = {
	    "router",       "queues",   "concurrent_jobs",  "prefetch",         "max_job_count",
	    "handler_dirs", "programs", "curve_secret_key", "curve_server_key", NULL};
	jm_t *jm = arg;
	conf_t *c;

	GH_UNUSED(loop);
	GH_UNUSED(signo);
	if ((c = startup_reload(jm->startup, jm->conf, restart)) == NULL)
		return 0;
	conf_destroy(&jm->conf);
	jm->conf = c;
	jm->timeout = conf_get_int(c, SECTION, "timeout");
	startup_peer_heartbeat(jm->peer, c, SECTION);
	log_notice("SIGHUP: reloaded log_level (%s), timeout (%ld s) and the heartbeat settings; "
	           "other keys need a restart",
	           log_level_name(log_get_level()), jm->timeout);
	return 0;
}

/* Set-up. */

/* Checks the queues before the log opens, and keeps them as the INFORM
 * JSON (a startup_check_fn). */
static int
read_queues(const conf_t *c, void *arg, gh_error_t *e)
{
	jm_t *jm = arg;

	jm->queues_json = queues_to_json(conf_get(c, SECTION, "queues"), e);
	return jm->queues_json != NULL ? 0 : -1;
}

/* Reads what else is set once at start: the timeout and the prefetch. */
static void
read_settings(jm_t *jm)
{
	jm->timeout = conf_get_int(jm->conf, SECTION, "timeout");
	jm->prefetch = (size_t)conf_get_int(jm->conf, SECTION, "prefetch");
}

/* The event loop, with the signals it handles. */
static void
open_loop(jm_t *jm)
{
	jm->loop = startup_loop(on_stop_signal, on_hup, jm);
	signal(SIGPIPE, SIG_IGN);
}

/* Forks the worker processes. Returns EX_OK, or pool_new's status
 * (EX_CONFIG for a bad programs item, else EX_OSERR) having logged why. */
static int
start_pool(jm_t *jm)
{
	char **dirs, **programs;
	size_t ndirs, nprograms;
	pool_config_t pc;
	gh_error_t e;

	dirs = conf_get_list(jm->conf, SECTION, "handler_dirs", &ndirs);
	programs = conf_get_list(jm->conf, SECTION, "programs", &nprograms);
	memset(&pc, 0, sizeof(pc));
	pc.workers = (size_t)conf_get_int(jm->conf, SECTION, "concurrent_jobs");
	pc.max_jobs = conf_get_int(jm->conf, SECTION, "max_job_count");
	pc.dirs = dirs;
	pc.ndirs = ndirs;
	pc.programs = programs;
	pc.nprograms = nprograms;
	pc.done = on_done;
	pc.returns = on_returned;
	pc.freed = on_freed;
	pc.max_waiting = JM_MAX_WAITING;
	/* Prefetched jobs go to the worker processes a few at a time, so that
	 * one wakeup of a worker runs several. */
	pc.depth = 1 + jm->prefetch / pc.workers;
	if (pc.depth > JM_MAX_DEPTH)
		pc.depth = JM_MAX_DEPTH;
	pc.arg = jm;
	jm->pool = pool_new(jm->loop, &pc, &e);
	conf_list_free(dirs, ndirs);
	conf_list_free(programs, nprograms);
	return jm->pool != NULL ? EX_OK : startup_log_fail(&e);
}

/* The ZeroMQ context and the connection to the routers (peer.h), whose
 * CURVE keys are read here, after the workers forked, and wiped once the
 * peer holds them. Returns EX_OK, EX_OSERR or EX_CONFIG (a bad key, no
 * endpoint could be connected). */
static int
connect_router(jm_t *jm)
{
	peer_config_t pc;
	gh_error_t e;

	if ((jm->ctx = zmq_ctx_new()) == NULL) {
		log_error("zmq_ctx_new: %s", zmq_strerror(errno));
		return EX_OSERR;
	}
	memset(&pc, 0, sizeof(pc));
	pc.type = "worker";
	pc.queues = jm->queues_json;
	pc.max_message = JM_MAX_MESSAGE;
	pc.hwm = JM_HWM;
	pc.message = on_message;
	pc.registered = on_registered;
	pc.lost = on_lost;
	pc.arg = jm;
	jm->peer = startup_peer_new(jm->loop, jm->ctx, jm->conf, SECTION, "router", &pc, &e);
	return jm->peer != NULL ? EX_OK : startup_log_fail(&e);
}

/* Runs until a stop signal has run its course. Returns EX_OK, or
 * EX_SOFTWARE if the loop failed. */
static int
run(jm_t *jm)
{
	int rc = EX_OK;

	log_notice("started: %ld workers, queues %s, router %s",
	           conf_get_int(jm->conf, SECTION, "concurrent_jobs"), jm->queues_json,
	           peer_endpoint(jm->peer));
	if (loop_run(jm->loop) == -1) {
		log_error("event loop: %s", zmq_strerror(errno));
		rc = EX_SOFTWARE;
	}
	log_notice("stopped");
	return rc;
}

/* Hands back what still waits, stops the workers, and lets the last results
 * and the KBYE reach the router. Frees what set-up made, however far it
 * got. */
static void
teardown(jm_t *jm)
{
	if (jm->pool != NULL)
		pool_stop(jm->pool);
	pool_destroy(&jm->pool);
	peer_destroy(&jm->peer, 2000);
	if (jm->ctx != NULL)
		zmq_ctx_term(jm->ctx);
	loop_destroy(&jm->loop);
}

/* The job manager: set up, serve, tear down. The pool forks before the
 * ZeroMQ context exists and before the CURVE keys are read, so that no
 * worker holds either. */
static int
jobmanager(jm_t *jm)
{
	int rc;

	read_settings(jm);
	open_loop(jm);
	if ((rc = start_pool(jm)) != EX_OK)
		goto out;
	if ((rc = connect_router(jm)) != EX_OK)
		goto out;
	rc = run(jm);
out:
	teardown(jm);
	return rc;
}

/* A job manager with only its start-up made. Caller owns the result
 * (jm_destroy). */
static jm_t *
jm_new(void)
{
	jm_t *jm = gh_calloc(1, sizeof(*jm));

	jm->startup = startup_new(&jm_program);
	return jm;
}

/* Frees what jm_new and the start-up made (jobmanager frees its own) and
 * sets *self_p to NULL. Accepts NULL and a pointer to NULL. */
static void
jm_destroy(jm_t **self_p)
{
	jm_t *jm;

	if (self_p == NULL || (jm = *self_p) == NULL)
		return;
	free(jm->queues_json);
	conf_destroy(&jm->conf);
	startup_destroy(&jm->startup);
	free(jm);
	*self_p = NULL;
}

int
main(int argc, char **argv)
{
	jm_t *jm = jm_new();
	int rc = startup_begin_check(jm->startup, argc, argv, read_queues, jm, &jm->conf);

	if (rc == STARTUP_RUN)
		rc = jobmanager(jm);
	jm_destroy(&jm);
	log_close();
	return rc;
}
