/*
 * jobmanager.c: gearhorn-jobmanager(8). Connects one DEALER to a router
 * backend, INFORMs it of the queues it serves, advertises one READY per idle
 * worker and runs each REQUEST in the prefork pool (pool.h), answering with
 * REPLY (result) or ERROR, then READY for the freed slot.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

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

#define SECTION          "jobmanager"
#define JM_HWM           100000
#define JM_MAX_WAITING   10000
#define JM_MAX_MESSAGE   (16u * 1024 * 1024 + 65536)
#define JM_MAX_OVERRIDES 16
#define JM_MAX_DEPTH     8 /* jobs one worker process holds, with prefetch */

extern char **environ;

typedef struct {
	const char *config_path;
	conf_override_t overrides[JM_MAX_OVERRIDES];
	size_t noverrides;

	conf_t *conf;
	char **routers; /* [jobmanager] router */
	size_t nrouters;
	loop_t *loop;
	void *ctx;
	peer_t *peer;
	pool_t *pool;
	char *queues_json;
	long timeout;
	size_t prefetch; /* slots advertised beyond the worker processes */
	int stopping, said_goodbye;
	uint64_t grace_timer;
} jm_t;

/* Start-up (at the end of the file). */
static conf_t *load_conf(jm_t *jm, char *err, size_t errlen);
static void apply_log_level(const conf_t *c);

/* Queues. */

/* Turns "[[20,\"email\"],[10,\"default\"]]", "20:email,10:default" or
 * "email reports" (weight 10) into the INFORM queues JSON. Caller owns the
 * result; NULL with err on a bad spec. */
static char *
queues_to_json(const char *spec, char *err, size_t errlen)
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
			gh_err(err, errlen, "queues: %s", perr.text);
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
				gh_err(err, errlen, "queues: more than %d queues",
				       PROTO_MAX_INFORM_QUEUES);
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
				free(copy);
				gh_err(err, errlen, "queues: bad queue name \"%.64s\"", tok);
				return NULL;
			}
			q[n++].weight = w;
		}
		free(copy);
	}
	if (n == 0) {
		gh_err(err, errlen, "queues: no queue given");
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

static int
on_hup(loop_t *loop, int signo, void *arg)
{
	jm_t *jm = arg;
	char err[1024];
	conf_t *c;

	GH_UNUSED(loop);
	GH_UNUSED(signo);
	if ((c = load_conf(jm, err, sizeof(err))) == NULL) {
		log_error("SIGHUP: configuration not reloaded: %s", err);
		return 0;
	}
	conf_destroy(&jm->conf);
	jm->conf = c;
	apply_log_level(c);
	jm->timeout = conf_get_int(c, SECTION, "timeout");
	peer_set_heartbeat(jm->peer, conf_get_int(c, SECTION, "heartbeat_interval") * 1000,
	                   conf_get_int(c, SECTION, "heartbeat_timeout") * 1000);
	log_notice("SIGHUP: reloaded log_level (%s), timeout (%ld s) and the heartbeat settings; "
	           "other keys need a restart",
	           log_level_name(log_get_level()), jm->timeout);
	return 0;
}

/* Set-up. */

/* Reads what is set once at start: the routers, the queues (as the INFORM
 * JSON), the timeout and the prefetch. Returns EX_OK or EX_CONFIG. */
static int
read_settings(jm_t *jm)
{
	char err[1024];

	jm->routers = conf_get_list(jm->conf, SECTION, "router", &jm->nrouters);
	if (jm->nrouters == 0) {
		log_error("[jobmanager] router: no endpoint given");
		return EX_CONFIG;
	}
	jm->queues_json = queues_to_json(conf_get(jm->conf, SECTION, "queues"), err, sizeof(err));
	if (jm->queues_json == NULL) {
		log_error("[jobmanager] %s", err);
		return EX_CONFIG;
	}
	jm->timeout = conf_get_int(jm->conf, SECTION, "timeout");
	jm->prefetch = (size_t)conf_get_int(jm->conf, SECTION, "prefetch");
	return EX_OK;
}

/* The event loop, with the signals it handles. */
static void
open_loop(jm_t *jm)
{
	jm->loop = loop_new();
	loop_add_signal(jm->loop, SIGTERM, on_stop_signal, jm);
	loop_add_signal(jm->loop, SIGINT, on_stop_signal, jm);
	loop_add_signal(jm->loop, SIGHUP, on_hup, jm);
	signal(SIGPIPE, SIG_IGN);
}

/* Forks the worker processes. Returns EX_OK, or pool_new's status
 * (EX_CONFIG for a bad programs item, else EX_OSERR). */
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
	if (jm->pool == NULL) {
		log_error("%s", e.text);
		return e.status;
	}
	log_notice("started: %zu workers, queues %s, router %s", pc.workers, jm->queues_json,
	           jm->routers[0]);
	return EX_OK;
}

/* The ZeroMQ context and the connection to the routers (peer.h). Returns
 * EX_OK, EX_OSERR or EX_CONFIG (no endpoint could be connected). */
static int
connect_router(jm_t *jm)
{
	char err[1024];
	peer_config_t pc;
	gh_error_t cerr;

	if ((jm->ctx = zmq_ctx_new()) == NULL) {
		log_error("zmq_ctx_new: %s", zmq_strerror(errno));
		return EX_OSERR;
	}
	memset(&pc, 0, sizeof(pc));
	pc.type = "worker";
	pc.queues = jm->queues_json;
	pc.endpoints = jm->routers;
	pc.nendpoints = jm->nrouters;
	pc.hb_interval_ms = conf_get_int(jm->conf, SECTION, "heartbeat_interval") * 1000;
	pc.hb_timeout_ms = conf_get_int(jm->conf, SECTION, "heartbeat_timeout") * 1000;
	pc.max_message = JM_MAX_MESSAGE;
	pc.hwm = JM_HWM;
	pc.message = on_message;
	pc.registered = on_registered;
	pc.lost = on_lost;
	pc.arg = jm;
	if (startup_curve(jm->conf, SECTION, &pc.curve, &cerr) != 0) {
		log_error("%s", cerr.text);
		return cerr.status;
	}
	jm->peer = peer_new(jm->loop, jm->ctx, &pc, err, sizeof(err));
	/* The keys are wiped as soon as the socket holds them. */
	explicit_bzero(&pc.curve, sizeof(pc.curve));
	if (jm->peer == NULL) {
		log_error("%s", err);
		return EX_CONFIG;
	}
	return EX_OK;
}

/* Runs until a stop signal has run its course. Returns EX_OK, or
 * EX_SOFTWARE if the loop failed. */
static int
run(jm_t *jm)
{
	int rc = EX_OK;

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
	conf_list_free(jm->routers, jm->nrouters);
	free(jm->queues_json);
}

/* The job manager: set up, serve, tear down. The pool forks before the
 * ZeroMQ context exists, so that no worker inherits it. */
static int
jobmanager(jm_t *jm)
{
	int rc;

	if ((rc = read_settings(jm)) != EX_OK)
		goto out;
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

/* Start-up: configuration, logging and options. */

static conf_t *
load_conf(jm_t *jm, char *err, size_t errlen)
{
	return conf_load_overrides(jm->config_path, environ, SECTION, jm->overrides, jm->noverrides,
	                           err, errlen);
}

static void
apply_log_level(const conf_t *c)
{
	log_level_t lv = LOG_LEVEL_INFO;

	log_level_parse(conf_get(c, SECTION, "log_level"), &lv);
	log_set_level(lv);
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: gearhorn-jobmanager [-hV] [-c file] [-j jobs] [-l level] [-Q queues]\n"
	        "                           [-r endpoints]\n"
	        "  -c, --config FILE      configuration file (default %s)\n"
	        "  -r, --router LIST      router backend endpoints, tried in order\n"
	        "  -Q, --queues QUEUES    queues: [[20,\"email\"]] or 20:email,10:default\n"
	        "  -j, --jobs N           worker processes (concurrent_jobs)\n"
	        "  -l, --log-level LEVEL  error, warn, notice, info or debug\n"
	        "  -h, --help             show this help\n"
	        "  -V, --version          show the version\n",
	        conf_default_path());
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},    {"router", required_argument, NULL, 'r'},
	    {"queues", required_argument, NULL, 'Q'},    {"jobs", required_argument, NULL, 'j'},
	    {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0}};
	jm_t jm;
	char err[1024];
	int c, rc;

	memset(&jm, 0, sizeof(jm));
	log_open("gearhorn-jobmanager", LOG_LEVEL_INFO, 0);
	while ((c = getopt_long(argc, argv, "c:r:Q:j:l:hV", opts, NULL)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 'c':
			jm.config_path = optarg;
			break;
		case 'r':
			key = "router";
			break;
		case 'Q':
			key = "queues";
			break;
		case 'j':
			key = "concurrent_jobs";
			break;
		case 'l':
			key = "log_level";
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("gearhorn-jobmanager %s (protocol %s)\n", PACKAGE_VERSION,
			       PROTO_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
		if (key != NULL) {
			if (jm.noverrides == JM_MAX_OVERRIDES) {
				fprintf(stderr, "gearhorn-jobmanager: too many options\n");
				return EX_USAGE;
			}
			jm.overrides[jm.noverrides].key = key;
			jm.overrides[jm.noverrides].value = optarg;
			jm.noverrides++;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((jm.conf = load_conf(&jm, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gearhorn-jobmanager: %s\n", err);
		return EX_CONFIG;
	}
	{
		char *q = queues_to_json(conf_get(jm.conf, SECTION, "queues"), err, sizeof(err));
		if (q == NULL) {
			fprintf(stderr, "gearhorn-jobmanager: [jobmanager] %s\n", err);
			conf_destroy(&jm.conf);
			return EX_CONFIG;
		}
		free(q);
	}
	log_open("gearhorn-jobmanager", LOG_LEVEL_INFO,
	         strcmp(conf_get(jm.conf, SECTION, "log_target"), "syslog") == 0);
	apply_log_level(jm.conf);
	rc = jobmanager(&jm);
	conf_destroy(&jm.conf);
	log_close();
	return rc;
}
