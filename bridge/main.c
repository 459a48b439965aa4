/*
 * gearhorn-bridge: gearman <-> ZeroMQ (see gearhorn-bridge(8)).
 *
 * ZeroMQ to gearman: the main thread joins the router backends as a job
 * manager for the queues of [bridge] to_gearman (backend.c) and hands each
 * REQUEST to a slot thread that runs it as a gearman job (gslot.c).
 * Gearman to ZeroMQ: worker threads register the functions of to_zeromq
 * and subscribe, and send their jobs as REQUESTs through the router
 * frontends (zworker.c). A thread of its own keeps the bridge's fanout
 * subscriptions (subscribe.c).
 *
 * This file is the start-up, through the start-up kit (startup.h):
 * options, configuration (reloaded on SIGHUP), routes, and bridge_run(),
 * which sets the parts up in order, runs the event loop and tears them
 * down. Signals go to the main loop (signalfd).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>

#include "bridge_int.h"
#include "conf.h"
#include "log.h"
#include "loop.h"
#include "map.h"
#include "peer.h"
#include "proto.h"
#include "startup.h"
#include "util.h"

#define SECTION BRIDGE_SECTION

static const startup_option_t bridge_options[] = {
    {'s', "server", "H:P", "gearman_servers", 1,
     "gearman job server; repeatable ([global] gearman_servers)"},
};
static const startup_program_t bridge_program = {"gearhorn-bridge", SECTION, bridge_options,
                                                 GH_ARRAY_LEN(bridge_options)};

/* ---- configuration ---- */

/* The settings the threads read that a reload may change (the log level is
 * the start-up kit's). */
static void
apply_conf(bridge_t *b, const conf_t *c)
{
	__atomic_store_n(&b->timeout, conf_get_int(c, SECTION, "timeout"), __ATOMIC_RELAXED);
	__atomic_store_n(&b->guarantee, conf_get_bool(c, SECTION, "guarantee"), __ATOMIC_RELAXED);
	__atomic_store_n(&b->resubscribe_s, sub_period(c), __ATOMIC_RELAXED);
}

static int
on_hup(loop_t *loop, int signo, void *arg)
{
	static const char *const restart[] = {"to_gearman",     "to_zeromq",       "subscribe",
	                                      "subscriber",     "gearman_servers", "max_in_flight",
	                                      "router_backend", "router_frontend", NULL};
	bridge_t *b = arg;
	conf_t *c;

	GH_UNUSED(loop);
	GH_UNUSED(signo);
	if ((c = startup_reload(b->startup, b->conf, restart)) == NULL)
		return 0;
	conf_destroy(&b->conf);
	b->conf = c;
	apply_conf(b, c);
	__atomic_store_n(&b->hb_timeout_s, conf_get_int(c, SECTION, "heartbeat_timeout"),
	                 __ATOMIC_RELAXED);
	startup_peer_heartbeat(b->peer, c, SECTION);
	log_notice("SIGHUP: reloaded log_level (%s), timeout (%ld s), guarantee and the heartbeat "
	           "settings; routes, servers and max_in_flight need a restart",
	           log_level_name(log_get_level()), b->timeout);
	return 0;
}

/* ---- routes ---- */

/* Reads the routes of the configuration. Returns 0, or -1 with EX_CONFIG
 * in e. */
static int
read_routes(bridge_t *b, gh_error_t *e)
{
	char **outs, **ins, **subs, *err = e->text;
	size_t errlen = sizeof(e->text);
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
	if (rc != 0)
		e->status = EX_CONFIG;
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

/* The configuration, with the command line on top, and its routes; then
 * the log. Returns STARTUP_RUN, or the exit status having written why to
 * stderr. */
static int
bridge_configure(bridge_t *b)
{
	gh_error_t e;

	if ((b->conf = startup_conf(b->startup, &e)) == NULL || read_routes(b, &e) != 0)
		return startup_fail(b->startup, &e);
	startup_log_open(b->conf, SECTION, bridge_program.name);
	apply_conf(b, b->conf);
	return STARTUP_RUN;
}

/* ---- set-up ---- */

/* The settings every thread reads: our gearman identifier, the gearman
 * servers (each must parse), the heartbeat timeout and max_in_flight.
 * Returns EX_OK, or EX_CONFIG having logged why. */
static int
bridge_read_gearman(bridge_t *b)
{
	char host[64] = "localhost";
	gh_error_t e;

	gethostname(host, sizeof(host) - 1);
	b->identifier = gh_asprintf("gearhorn-bridge_%s_%ld", host, (long)getpid());
	b->hb_timeout_s = conf_get_int(b->conf, SECTION, "heartbeat_timeout");
	b->nthreads = conf_get_int(b->conf, SECTION, "max_in_flight");
	if ((b->servers = startup_gearman_servers(b->conf, SECTION, &b->nservers, &e)) == NULL) {
		return startup_log_fail(&e);
	}
	return EX_OK;
}

/* The sockets: the inproc ROUTER of the slot and worker threads, the
 * workers' gearman and ZeroMQ ends, and the peer on the router backends.
 * The ZeroMQ ends and the peer bound their frames (ZMQ_MAXMSGSIZE, see
 * wire_set_max_frame); the inproc sockets need no bound: only the bridge's
 * own threads reach them, with what came in through those ends or
 * libgearman, and libzmq does not apply ZMQ_MAXMSGSIZE to inproc.
 * Returns EX_OK, or an exit status having logged why. */
static int
bridge_open(bridge_t *b)
{
	gh_error_t e;

	b->ctx = zmq_ctx_new();
	b->slots = b->ctx ? zmq_socket(b->ctx, ZMQ_ROUTER) : NULL;
	if (b->slots == NULL || zmq_bind(b->slots, BRIDGE_SLOTS) != 0) {
		log_error("inproc socket: %s", zmq_strerror(zmq_errno()));
		return EX_OSERR;
	}
	loop_add_socket(b->loop, b->slots, ZMQ_POLLIN, backend_on_slots, b);
	if ((b->nins > 0 && zw_setup(b, &e) == -1) || (b->nouts > 0 && backend_open(b, &e) == -1)) {
		return startup_log_fail(&e);
	}
	if (b->nouts > 0)
		gslot_alloc(b);
	return EX_OK;
}

/* The threads, last: they inherit the signal mask that loop_add_signal
 * set. Returns EX_OK, or EX_OSERR having logged why. */
static int
bridge_start(bridge_t *b)
{
	if (gslot_start(b) == -1 || zw_start(b) == -1 || sub_start(b) == -1) {
		log_error("cannot start a thread");
		return EX_OSERR;
	}
	log_notice("started: to gearman %s, to ZeroMQ %zu functions, %ld jobs in flight each way, "
	           "gearman %s",
	           b->nouts ? b->queues_json : "-", b->nins, b->nthreads,
	           conf_get(b->conf, SECTION, "gearman_servers"));
	return EX_OK;
}

/* Runs the event loop until the stop. Returns EX_OK or EX_SOFTWARE. */
static int
bridge_loop(bridge_t *b)
{
	int rc = EX_OK;

	if (loop_run(b->loop) == -1) {
		log_error("event loop: %s", zmq_strerror(errno));
		rc = EX_SOFTWARE;
	}
	log_notice("stopped");
	return rc;
}

/* Ends the threads and frees what bridge_run made; after a forced stop,
 * ends the process with rc instead. */
static void
bridge_close(bridge_t *b, int rc)
{
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
	gslot_stop(b);
	zw_join(b);
	sub_join(b);
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
	free(b->identifier);
}

/* Runs the bridge on b's configuration and routes until it stops. Returns
 * the exit status. */
static int
bridge_run(bridge_t *b)
{
	int rc;

	b->loop = startup_loop(backend_on_stop, on_hup, b);
	signal(SIGPIPE, SIG_IGN);
	if ((rc = bridge_read_gearman(b)) == EX_OK && (rc = bridge_open(b)) == EX_OK &&
	    (rc = bridge_start(b)) == EX_OK)
		rc = bridge_loop(b);
	bridge_close(b, rc);
	return rc;
}

/* A bridge with only its start-up made. Caller owns the result
 * (bridge_destroy). */
static bridge_t *
bridge_new(void)
{
	bridge_t *b = gh_calloc(1, sizeof(*b));

	b->startup = startup_new(&bridge_program);
	return b;
}

/* Frees what bridge_new, bridge_configure and read_routes made (bridge_run
 * frees its own) and sets *self_p to NULL. Accepts NULL and a pointer to
 * NULL. */
static void
bridge_destroy(bridge_t **self_p)
{
	bridge_t *b;

	if (self_p == NULL || (b = *self_p) == NULL)
		return;
	free_routes(b);
	conf_destroy(&b->conf);
	startup_destroy(&b->startup);
	free(b);
	*self_p = NULL;
}

int
main(int argc, char **argv)
{
	bridge_t *b = bridge_new();
	int rc = startup_args(b->startup, argc, argv);

	if (rc == STARTUP_RUN && (rc = bridge_configure(b)) == STARTUP_RUN)
		rc = bridge_run(b);
	bridge_destroy(&b);
	log_close();
	return rc;
}
