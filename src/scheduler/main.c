/*
 * gearhorn-scheduler(8): runs jobs on intervals and cron schedules.
 *
 * It connects to the router's frontend as an eMQP peer of type
 * "scheduler", receives the SCHEDULE and UNSCHEDULE messages clients send
 * there, keeps the schedules in SQLite, and sends each job as a REQUEST
 * when it is due.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <zmq.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "sched.h"
#include "util.h"
#include "wire.h"

extern char **environ;

#define TICK_MS 250

typedef struct {
	conf_t *conf;
	const char *config_path;
	loop_t *loop;
	void *ctx, *sock;
	sched_t *sched;
	char **routers;
	size_t nrouters, router_i;
	char inform_id[GH_UUID_LEN + 1];
	int registered;
	uint64_t last_heard, last_sent, informed_at;
	long hb_interval_ms, hb_timeout_ms;
	int stopping;
} scheduler_t;

static int
send_msg(scheduler_t *s, proto_msg_t *msg)
{
	proto_err_t perr;

	if (wire_send_msg(s->sock, NULL, 0, msg, ZMQ_DONTWAIT, &perr) != 0) {
		if (perr.code != PROTO_OK)
			log_error("cannot encode %s: %s", proto_cmd_name(msg->cmd), perr.text);
		else
			log_warn("cannot send %s to the router: %s", proto_cmd_name(msg->cmd),
			         zmq_strerror(errno));
		return -1;
	}
	s->last_sent = loop_now(s->loop);
	return 0;
}

static void
send_simple(scheduler_t *s, proto_cmd_t cmd)
{
	char id[GH_UUID_LEN + 1], ts[32];
	proto_msg_t msg;

	gh_uuid(id);
	proto_msg_init(&msg, cmd, id);
	if (cmd == PROTO_HEARTBEAT) {
		snprintf(ts, sizeof(ts), "%.6f", gh_wall_time());
		msg.timestamp = (gh_frame_t){ts, strlen(ts)};
	}
	send_msg(s, &msg);
}

static void
send_inform(scheduler_t *s)
{
	proto_msg_t msg;

	gh_uuid(s->inform_id);
	proto_msg_init(&msg, PROTO_INFORM, s->inform_id);
	msg.queues = (gh_frame_t){"", 0};
	msg.peer_type = (gh_frame_t){"scheduler", 9};
	send_msg(s, &msg);
	s->informed_at = loop_now(s->loop);
}

static int on_router(loop_t *, void *, int, short, void *);

/* (Re)connects to the current router with a fresh identity and INFORMs. */
static int
connect_router(scheduler_t *s)
{
	char err[256], id[GH_UUID_LEN + 1];
	const char *ep = s->routers[s->router_i];

	if (s->sock != NULL) {
		loop_remove_socket(s->loop, s->sock);
		zmq_close(s->sock);
	}
	s->sock = zmq_socket(s->ctx, ZMQ_DEALER);
	gh_uuid(id);
	zmq_setsockopt(s->sock, ZMQ_ROUTING_ID, id, strlen(id));
	{
		int linger = 0, hwm = 10000;

		zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof(linger));
		zmq_setsockopt(s->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	}
	if (zmq_connect(s->sock, ep) != 0) {
		snprintf(err, sizeof(err), "%s", zmq_strerror(zmq_errno()));
		log_error("cannot connect to %s: %s", ep, err);
		return -1;
	}
	loop_add_socket(s->loop, s->sock, ZMQ_POLLIN, on_router, s);
	s->registered = 0;
	s->last_heard = loop_now(s->loop);
	log_info("connecting to router %s as %s", ep, id);
	send_inform(s);
	return 0;
}

static void
fire(const sched_job_t *job, void *arg)
{
	scheduler_t *s = arg;
	char id[GH_UUID_LEN + 1];
	proto_msg_t msg;

	gh_uuid(id);
	proto_msg_init(&msg, PROTO_REQUEST, id);
	msg.queue = (gh_frame_t){job->queue, strlen(job->queue)};
	msg.headers = (gh_frame_t){job->headers, strlen(job->headers)};
	msg.body = (gh_frame_t){job->body, strlen(job->body)};
	if (send_msg(s, &msg) == 0)
		log_info("sent scheduled job %s to queue %s (request %s%s)", job->key, job->queue,
		         id, job->runs_left == 0 ? ", last run" : "");
}

static void
handle(scheduler_t *s, const proto_msg_t *msg)
{
	char err[512], esc[256];

	switch (msg->cmd) {
	case PROTO_ACK:
		if (msg->ref.size == strlen(s->inform_id) &&
		    memcmp(msg->ref.data, s->inform_id, msg->ref.size) == 0 && !s->registered) {
			s->registered = 1;
			log_notice("registered with router %s; %zu schedules",
			           s->routers[s->router_i], sched_count(s->sched));
		}
		break;
	case PROTO_SCHEDULE:
		if (sched_schedule(s->sched, msg->queue, msg->headers, msg->interval_secs,
		                   msg->cron, msg->body, time(NULL), err, sizeof(err)) != 0)
			log_warn("SCHEDULE %s refused: %s",
			         log_escape(msg->msgid.data, msg->msgid.size, esc, sizeof(esc)),
			         err);
		else
			log_info("SCHEDULE %s on queue %s: %s",
			         log_escape(msg->msgid.data, msg->msgid.size, esc, sizeof(esc)),
			         log_escape(msg->queue.data, msg->queue.size, err, 256),
			         msg->interval_secs >= 0 ? "interval" : "cron");
		break;
	case PROTO_UNSCHEDULE: {
		int rc = sched_unschedule(s->sched, msg->body, err, sizeof(err));

		if (rc < 0)
			log_warn("UNSCHEDULE refused: %s", err);
		else
			log_info("UNSCHEDULE: %s", rc ? "removed" : "no such schedule");
		break;
	}
	case PROTO_ERROR:
		/* A fired job failed, or the router refused something of ours. */
		log_warn("router error %.*s for %s: %.*s", (int)msg->code.size, msg->code.data,
		         log_escape(msg->ref.data, msg->ref.size, esc, sizeof(esc)),
		         (int)msg->text.size, msg->text.data);
		if (gh_frame_is(msg->code, "unknown-peer"))
			send_inform(s);
		break;
	case PROTO_KBYE:
		log_notice("router said goodbye; reconnecting");
		connect_router(s);
		break;
	case PROTO_HEARTBEAT:
	case PROTO_REPLY:
		break;
	default:
		log_debug("ignoring %s from the router", proto_cmd_name(msg->cmd));
		break;
	}
}

static int
on_router(loop_t *loop, void *sock, int fd, short revents, void *arg)
{
	scheduler_t *s = arg;
	int i;

	GH_UNUSED(fd);
	GH_UNUSED(revents);
	for (i = 0; i < 64; i++) {
		gh_frame_t f[WIRE_MAX_FRAMES];
		proto_msg_t msg;
		proto_err_t perr;
		wire_msg_t m;
		size_t n;

		if (wire_recv(sock, &m, 1u << 20, ZMQ_DONTWAIT) != 0)
			break;
		s->last_heard = loop_now(loop);
		n = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
		if (m.truncated || m.oversized)
			log_warn("dropped an oversized message from the router");
		else if (proto_decode(f, n, &msg, &perr) != 0)
			log_warn("bad message from the router: %s", perr.text);
		else
			handle(s, &msg);
		wire_msg_close(&m);
		if (s->sock != sock) /* reconnected while handling */
			break;
	}
	return 0;
}

static int
on_tick(loop_t *loop, uint64_t id, void *arg)
{
	scheduler_t *s = arg;
	uint64_t now = loop_now(loop);

	GH_UNUSED(id);
	/* Three missed heartbeat windows: the router is gone; try the next. */
	if (now - s->last_heard > (uint64_t)(3 * s->hb_timeout_ms)) {
		s->router_i = (s->router_i + 1) % s->nrouters;
		log_warn("no word from the router for %ld s; reconnecting to %s",
		         3 * s->hb_timeout_ms / 1000, s->routers[s->router_i]);
		connect_router(s);
		return 0;
	}
	if (!s->registered) {
		if (now - s->informed_at >= (uint64_t)s->hb_timeout_ms)
			send_inform(s);
		return 0;
	}
	if (now - s->last_sent >= (uint64_t)s->hb_interval_ms)
		send_simple(s, PROTO_HEARTBEAT);
	sched_run_due(s->sched, time(NULL), fire, s);
	return 0;
}

static void
apply_conf(scheduler_t *s)
{
	log_level_t level = LOG_LEVEL_INFO;

	log_level_parse(conf_get(s->conf, "scheduler", "log_level"), &level);
	log_set_level(level);
	s->hb_interval_ms = conf_get_int(s->conf, "scheduler", "heartbeat_interval") * 1000;
	s->hb_timeout_ms = conf_get_int(s->conf, "scheduler", "heartbeat_timeout") * 1000;
}

static int
on_signal(loop_t *loop, int signo, void *arg)
{
	scheduler_t *s = arg;

	if (signo == SIGHUP) {
		char err[512];
		conf_t *c = conf_load(s->config_path, environ, err, sizeof(err));

		if (c == NULL) {
			log_error("reload refused, keeping the running configuration: %s", err);
			return 0;
		}
		conf_destroy(&s->conf);
		s->conf = c;
		apply_conf(s);
		log_notice("configuration reloaded (the router address takes a restart)");
		return 0;
	}
	log_notice("stopping on signal %d", signo);
	if (s->registered)
		send_simple(s, PROTO_KBYE);
	s->stopping = 1;
	loop_stop(loop);
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(out, "usage: gearhorn-scheduler [-c FILE] [-r ENDPOINT[,...]] [-d DATABASE] "
	             "[-l LEVEL] [-h] [-V]\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"router", required_argument, NULL, 'r'},
	                                     {"database", required_argument, NULL, 'd'},
	                                     {"log-level", required_argument, NULL, 'l'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {NULL, 0, NULL, 0}};
	const char *flag_router = NULL, *flag_db = NULL, *flag_level = NULL;
	scheduler_t s;
	char err[512], *db_path;
	const char *db;
	int c, rc = EX_OK;

	memset(&s, 0, sizeof(s));
	while ((c = getopt_long(argc, argv, "c:r:d:l:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			s.config_path = optarg;
			break;
		case 'r':
			flag_router = optarg;
			break;
		case 'd':
			flag_db = optarg;
			break;
		case 'l':
			flag_level = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("gearhorn-scheduler %s\n", PACKAGE_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	log_open("gearhorn-scheduler", LOG_LEVEL_INFO, 0);
	s.conf = conf_load(s.config_path, environ, err, sizeof(err));
	if (s.conf == NULL ||
	    (flag_router != NULL &&
	     conf_set(s.conf, "scheduler", "router", flag_router, NULL, err, sizeof(err)) != 0) ||
	    (flag_db != NULL &&
	     conf_set(s.conf, "scheduler", "database", flag_db, NULL, err, sizeof(err)) != 0) ||
	    (flag_level != NULL &&
	     conf_set(s.conf, "scheduler", "log_level", flag_level, NULL, err, sizeof(err)) != 0)) {
		log_error("%s", err);
		conf_destroy(&s.conf);
		return EX_CONFIG;
	}
	if (strcmp(conf_get(s.conf, "scheduler", "log_target"), "syslog") == 0)
		log_open("gearhorn-scheduler", LOG_LEVEL_INFO, 1);
	apply_conf(&s);

	db = conf_get(s.conf, "scheduler", "database");
	if (*db != '\0') {
		db_path = gh_strdup(db);
	} else {
		const char *dir = conf_get(s.conf, "scheduler", "state_dir");

		if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
			log_error("cannot create %s: %s", dir, strerror(errno));
			conf_destroy(&s.conf);
			return EX_CANTCREAT;
		}
		db_path = gh_asprintf("%s/scheduler.db", dir);
	}
	s.sched = sched_open(db_path, err, sizeof(err));
	if (s.sched == NULL) {
		log_error("%s", err);
		free(db_path);
		conf_destroy(&s.conf);
		return EX_CANTCREAT;
	}
	log_info("%zu schedules restored from %s", sched_count(s.sched), db_path);
	free(db_path);

	s.routers = conf_get_list(s.conf, "scheduler", "router", &s.nrouters);
	s.loop = loop_new();
	loop_add_signal(s.loop, SIGTERM, on_signal, &s);
	loop_add_signal(s.loop, SIGINT, on_signal, &s);
	loop_add_signal(s.loop, SIGHUP, on_signal, &s);
	s.ctx = zmq_ctx_new();
	if (s.nrouters == 0 || connect_router(&s) != 0) {
		rc = EX_CONFIG;
		goto out;
	}
	loop_add_timer(s.loop, TICK_MS, TICK_MS, on_tick, &s);
	loop_run(s.loop);
out:
	if (s.sock != NULL)
		zmq_close(s.sock);
	zmq_ctx_term(s.ctx);
	loop_destroy(&s.loop);
	sched_destroy(&s.sched);
	conf_list_free(s.routers, s.nrouters);
	conf_destroy(&s.conf);
	log_close();
	return rc;
}
