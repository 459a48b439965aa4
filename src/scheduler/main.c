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
#include "peer.h"
#include "proto.h"
#include "schedule.h"
#include "util.h"
#include "wire.h"

extern char **environ;

#define TICK_MS 250

typedef struct {
	conf_t *conf;
	const char *config_path;
	loop_t *loop;
	void *ctx;
	peer_t *peer;
	sched_t *sched;
	int stopping;
} scheduler_t;

static void
fire(const sched_job_t *job, void *arg)
{
	scheduler_t *s = arg;
	char id[GH_UUID_LEN + 1];
	proto_msg_t msg;

	gh_uuid(id);
	proto_msg_init(&msg, PROTO_REQUEST, id);
	msg.queue = gh_frame_str(job->queue);
	msg.headers = gh_frame_str(job->headers);
	msg.body = gh_frame_str(job->body);
	if (peer_send(s->peer, &msg) == 0)
		log_info("sent scheduled job %s to queue %s (request %s%s)", job->key, job->queue,
		         id, job->runs_left == 0 ? ", last run" : "");
}

static void
on_registered(peer_t *p, void *arg)
{
	scheduler_t *s = arg;

	log_notice("registered with router %s; %zu schedules", peer_endpoint(p),
	           sched_count(s->sched));
}

static void
on_message(peer_t *p, const proto_msg_t *msg, const wire_msg_t *raw, const proto_err_t *perr,
           void *arg)
{
	scheduler_t *s = arg;
	char err[512], esc[256];

	GH_UNUSED(p);
	if (msg == NULL) {
		log_warn("dropped an oversized message from the router (%zu bytes)", raw->bytes);
		return;
	}
	if (perr != NULL) {
		log_warn("bad message from the router: %s", perr->text);
		return;
	}
	switch (msg->cmd) {
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
		break;
	case PROTO_REPLY:
		break;
	default:
		log_debug("ignoring %s from the router", proto_cmd_name(msg->cmd));
		break;
	}
}

static int
on_tick(loop_t *loop, uint64_t id, void *arg)
{
	scheduler_t *s = arg;

	GH_UNUSED(loop);
	GH_UNUSED(id);
	if (peer_registered(s->peer))
		sched_run_due(s->sched, time(NULL), fire, s);
	return 0;
}

static void
apply_conf(scheduler_t *s)
{
	log_level_t level = LOG_LEVEL_INFO;

	log_level_parse(conf_get(s->conf, "scheduler", "log_level"), &level);
	log_set_level(level);
	if (s->peer != NULL)
		peer_set_heartbeat(s->peer,
		                   conf_get_int(s->conf, "scheduler", "heartbeat_interval") * 1000,
		                   conf_get_int(s->conf, "scheduler", "heartbeat_timeout") * 1000);
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
	if (peer_registered(s->peer))
		peer_send_cmd(s->peer, PROTO_KBYE);
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
	peer_config_t pc;
	char err[512], *db_path, **routers;
	size_t nrouters;
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

	routers = conf_get_list(s.conf, "scheduler", "router", &nrouters);
	s.loop = loop_new();
	loop_add_signal(s.loop, SIGTERM, on_signal, &s);
	loop_add_signal(s.loop, SIGINT, on_signal, &s);
	loop_add_signal(s.loop, SIGHUP, on_signal, &s);
	s.ctx = zmq_ctx_new();
	memset(&pc, 0, sizeof(pc));
	pc.type = "scheduler";
	pc.queues = "";
	pc.endpoints = routers;
	pc.nendpoints = nrouters;
	pc.hb_interval_ms = conf_get_int(s.conf, "scheduler", "heartbeat_interval") * 1000;
	pc.hb_timeout_ms = conf_get_int(s.conf, "scheduler", "heartbeat_timeout") * 1000;
	pc.max_message = 1u << 20;
	pc.hwm = 10000;
	pc.message = on_message;
	pc.registered = on_registered;
	pc.arg = &s;
	if (nrouters == 0 || (s.peer = peer_new(s.loop, s.ctx, &pc, err, sizeof(err))) == NULL) {
		log_error("%s", nrouters == 0 ? "[scheduler] router: no endpoint given" : err);
		rc = EX_CONFIG;
		goto out;
	}
	loop_add_timer(s.loop, TICK_MS, TICK_MS, on_tick, &s);
	loop_run(s.loop);
out:
	/* Let the KBYE reach the router. */
	peer_destroy(&s.peer, 1000);
	zmq_ctx_term(s.ctx);
	loop_destroy(&s.loop);
	sched_destroy(&s.sched);
	conf_list_free(routers, nrouters);
	conf_destroy(&s.conf);
	log_close();
	return rc;
}
