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
 * This file is the start-up: options, configuration (reloaded on SIGHUP),
 * routes, and bridge_run(), which sets the parts up in order, runs the
 * event loop and tears them down. Signals go to the main loop (signalfd).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
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
#include "util.h"

#define SECTION BRIDGE_SECTION

extern char **environ;

/* ---- configuration ---- */

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

static void
apply_conf(bridge_t *b, const conf_t *c)
{
	log_level_t lv = LOG_LEVEL_INFO;

	log_level_parse(conf_get(c, SECTION, "log_level"), &lv);
	log_set_level(lv);
	__atomic_store_n(&b->timeout, conf_get_int(c, SECTION, "timeout"), __ATOMIC_RELAXED);
	__atomic_store_n(&b->guarantee, conf_get_bool(c, SECTION, "guarantee"), __ATOMIC_RELAXED);
	__atomic_store_n(&b->resubscribe_s, sub_period(c), __ATOMIC_RELAXED);
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

/* ---- routes ---- */

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

/* The event loop, with the signals it handles. */
static void
bridge_open_loop(bridge_t *b)
{
	b->loop = loop_new();
	loop_add_signal(b->loop, SIGTERM, backend_on_stop, b);
	loop_add_signal(b->loop, SIGINT, backend_on_stop, b);
	loop_add_signal(b->loop, SIGHUP, on_hup, b);
	signal(SIGPIPE, SIG_IGN);
}

/* The settings every thread reads: our gearman identifier, the gearman
 * servers (each must parse), the heartbeat timeout and max_in_flight.
 * Returns EX_OK, or EX_CONFIG having logged why. */
static int
bridge_read_gearman(bridge_t *b)
{
	char err[1024], host[64] = "localhost";
	size_t i;
	int port;

	gethostname(host, sizeof(host) - 1);
	b->identifier = gh_asprintf("gearhorn-bridge_%s_%ld", host, (long)getpid());
	b->servers = conf_get_list(b->conf, SECTION, "gearman_servers", &b->nservers);
	b->hb_timeout_s = conf_get_int(b->conf, SECTION, "heartbeat_timeout");
	b->nthreads = conf_get_int(b->conf, SECTION, "max_in_flight");
	if (b->nservers == 0) {
		log_error("no gearman servers configured ([global] gearman_servers)");
		return EX_CONFIG;
	}
	for (i = 0; i < b->nservers; i++) {
		if (conf_parse_server(b->servers[i], host, sizeof(host), &port, err, sizeof(err)) <
		    0) {
			log_error("%s", err);
			return EX_CONFIG;
		}
	}
	return EX_OK;
}

/* The sockets: the inproc ROUTER of the slot and worker threads, the
 * workers' gearman and ZeroMQ ends, and the peer on the router backends.
 * Returns EX_OK, or an exit status having logged why. */
static int
bridge_open(bridge_t *b)
{
	char err[1024];

	b->ctx = zmq_ctx_new();
	b->slots = b->ctx ? zmq_socket(b->ctx, ZMQ_ROUTER) : NULL;
	if (b->slots == NULL || zmq_bind(b->slots, BRIDGE_SLOTS) != 0) {
		log_error("inproc socket: %s", zmq_strerror(zmq_errno()));
		return EX_OSERR;
	}
	loop_add_socket(b->loop, b->slots, ZMQ_POLLIN, backend_on_slots, b);
	if ((b->nins > 0 && zw_setup(b, err, sizeof(err)) == -1) ||
	    (b->nouts > 0 && backend_open(b, err, sizeof(err)) == -1)) {
		log_error("%s", err);
		return EX_CONFIG;
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

	bridge_open_loop(b);
	if ((rc = bridge_read_gearman(b)) == EX_OK && (rc = bridge_open(b)) == EX_OK &&
	    (rc = bridge_start(b)) == EX_OK)
		rc = bridge_loop(b);
	bridge_close(b, rc);
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
