/*
 * gearhorn-scheduler(8): runs jobs on intervals and cron schedules.
 *
 * It connects to the frontend of every router of its list as an eMQP peer
 * of type "scheduler" (one connection each), receives the SCHEDULE and
 * UNSCHEDULE messages clients send to any of them, keeps the schedules in
 * SQLite, and sends each job as a REQUEST when it is due, once, through
 * one router: the first of the list that has acknowledged us.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <zmq.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "proto.h"
#include "schedule.h"
#include "startup.h"
#include "util.h"
#include "wire.h"

#define TICK_MS 250

static const startup_option_t scheduler_options[] = {
    {'r', "router", "ENDPOINT[,...]", "router", 0, "router frontends, each connected"},
    {'d', "database", "DATABASE", "database", 0, "schedule database ([scheduler] database)"},
};
static const startup_program_t scheduler_program = {
    "gearhorn-scheduler", "scheduler", scheduler_options, GH_ARRAY_LEN(scheduler_options)};

typedef struct {
	startup_t *startup;
	conf_t *conf;
	loop_t *loop;
	void *ctx;
	peer_t **peers; /* one per router of [scheduler] router */
	size_t npeers;
	sched_t *sched;
	int stopping;
} scheduler_t;

/* The router scheduled jobs go to: the first of the list that has
 * acknowledged us, or NULL. */
static peer_t *
live_peer(const scheduler_t *s)
{
	for (size_t i = 0; i < s->npeers; i++)
		if (peer_registered(s->peers[i]))
			return s->peers[i];
	return NULL;
}

static void
fire(const sched_job_t *job, void *arg)
{
	scheduler_t *s = arg;
	char id[GH_UUID_LEN + 1];
	proto_msg_t msg;
	peer_t *p = live_peer(s);

	gh_uuid(id);
	proto_msg_init(&msg, PROTO_REQUEST, id);
	msg.queue = gh_frame_str(job->queue);
	msg.headers = gh_frame_str(job->headers);
	msg.body = gh_frame_str(job->body);
	if (peer_send(p, &msg) == 0)
		log_info("sent scheduled job %s to queue %s of %s (request %s%s)", job->key,
		         job->queue, peer_endpoint(p), id, job->runs_left == 0 ? ", last run" : "");
}

static void
on_registered(peer_t *p, void *arg)
{
	scheduler_t *s = arg;

	log_notice("registered with router %s; %zu schedules%s", peer_endpoint(p),
	           sched_count(s->sched),
	           sched_writable(s->sched) ? "" : " (the database cannot be written)");
}

/* Answers a SCHEDULE or UNSCHEDULE whose msgid is ref, through p, the
 * router it came from: REPLY [ref] once it is stored, ERROR [ref, code,
 * "COMMAND: text"] when it is not. The router acknowledges the client only
 * with this answer. */
static void
answer(peer_t *p, proto_cmd_t cmd, gh_frame_t ref, const char *code, const char *text)
{
	char id[GH_UUID_LEN + 1], rbuf[PROTO_MAX_MSGID + 1], tbuf[640];
	proto_msg_t msg;

	if (code != NULL) {
		memcpy(rbuf, ref.data, ref.size);
		rbuf[ref.size] = '\0';
		snprintf(tbuf, sizeof(tbuf), "%s: %s", proto_cmd_name(cmd), text);
		peer_send_error(p, rbuf, code, tbuf, strlen(tbuf));
		return;
	}
	gh_uuid(id);
	proto_msg_init(&msg, PROTO_REPLY, id);
	msg.ref = ref;
	peer_send(p, &msg);
}

static void
on_schedule(scheduler_t *s, peer_t *p, const proto_msg_t *msg)
{
	char err[512], esc[256], qesc[256];
	int rc;

	log_escape(msg->msgid.data, msg->msgid.size, esc, sizeof(esc));
	if (msg->cmd == PROTO_SCHEDULE) {
		rc = sched_schedule(s->sched, msg->queue, msg->headers, msg->interval_secs,
		                    msg->cron, msg->body, time(NULL), err, sizeof(err));
		if (rc == 0)
			log_info("SCHEDULE %s on queue %s: %s", esc,
			         log_escape(msg->queue.data, msg->queue.size, qesc, sizeof(qesc)),
			         msg->interval_secs >= 0 ? "interval" : "cron");
	} else {
		rc = sched_unschedule(s->sched, msg->body, err, sizeof(err));
		if (rc >= 0)
			log_info("UNSCHEDULE %s: %s", esc, rc ? "removed" : "no such schedule");
	}
	if (rc >= 0) {
		answer(p, msg->cmd, msg->msgid, NULL, NULL);
		return;
	}
	log_warn("%s %s refused: %s", proto_cmd_name(msg->cmd), esc, err);
	answer(p, msg->cmd, msg->msgid, rc == SCHED_ESTORE ? "not-stored" : "bad-schedule", err);
}

static void
on_message(peer_t *p, const proto_msg_t *msg, const wire_msg_t *raw, const proto_err_t *perr,
           void *arg)
{
	scheduler_t *s = arg;
	char esc[256];

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
	case PROTO_UNSCHEDULE:
		on_schedule(s, p, msg);
		break;
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
	/* Once per tick whatever the number of routers: each run fires once. */
	if (live_peer(s) != NULL)
		sched_run_due(s->sched, time(NULL), fire, s);
	return 0;
}

static int
on_signal(loop_t *loop, int signo, void *arg)
{
	scheduler_t *s = arg;

	if (signo == SIGHUP) {
		static const char *const restart[] = {"router", "database", NULL};
		conf_t *c = startup_reload(s->startup, s->conf, restart);

		if (c == NULL)
			return 0;
		conf_destroy(&s->conf);
		s->conf = c;
		for (size_t i = 0; i < s->npeers; i++)
			startup_peer_heartbeat(s->peers[i], c, "scheduler");
		log_notice("configuration reloaded (the router address takes a restart)");
		return 0;
	}
	log_notice("stopping on signal %d", signo);
	for (size_t i = 0; i < s->npeers; i++)
		if (peer_registered(s->peers[i]))
			peer_send_cmd(s->peers[i], PROTO_KBYE);
	s->stopping = 1;
	loop_stop(loop);
	return 0;
}

/* Opens the schedule database ([scheduler] database, else scheduler.db in
 * state_dir, which is created if missing). Returns 0 or an exit status. */
static int
scheduler_open_store(scheduler_t *s)
{
	char err[512], *path;
	gh_error_t e;

	if (startup_db_dir(s->conf, "scheduler", "database", &e) != 0) {
		return startup_log_fail(&e);
	}
	path = startup_db_path(s->conf, "scheduler", "database", "scheduler.db");
	s->sched = sched_open(path, err, sizeof(err));
	if (s->sched == NULL) {
		log_error("%s", err);
		free(path);
		return EX_CANTCREAT;
	}
	log_info("%zu schedules restored from %s", sched_count(s->sched), path);
	if (sched_skipped(s->sched) > 0)
		log_warn("%zu rows of %s are not readable schedules and were skipped (see "
		         "above); they stay in the file until the same call is scheduled or "
		         "unscheduled again",
		         sched_skipped(s->sched), path);
	free(path);
	return 0;
}

/* Connects to every router as a "scheduler" peer. Returns 0 or an exit
 * status. */
static int
scheduler_connect(scheduler_t *s)
{
	peer_config_t pc;
	gh_error_t e;

	memset(&pc, 0, sizeof(pc));
	pc.type = "scheduler";
	/* "[]", not EventMQ's "": this scheduler answers each SCHEDULE and
	 * UNSCHEDULE once stored, so the router waits for that answer. */
	pc.queues = "[]";
	pc.max_message = 1u << 20;
	pc.hwm = 10000;
	pc.message = on_message;
	pc.registered = on_registered;
	pc.arg = s;
	s->ctx = zmq_ctx_new();
	s->peers =
	    startup_peers_new(s->loop, s->ctx, s->conf, "scheduler", "router", &pc, &s->npeers, &e);
	if (s->peers == NULL) {
		return startup_log_fail(&e);
	}
	return 0;
}

/* The store, the loop and the router connection; then the loop until a
 * signal stops it. Returns the exit status. */
static int
scheduler_run(scheduler_t *s)
{
	int rc;

	if ((rc = scheduler_open_store(s)) != 0)
		return rc;
	s->loop = startup_loop(on_signal, on_signal, s);
	if ((rc = scheduler_connect(s)) != 0)
		return rc;
	loop_add_timer(s->loop, TICK_MS, TICK_MS, on_tick, s);
	loop_run(s->loop);
	return EX_OK;
}

int
main(int argc, char **argv)
{
	scheduler_t s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.startup = startup_new(&scheduler_program);
	rc = startup_begin(s.startup, argc, argv, &s.conf);
	if (rc == STARTUP_RUN)
		rc = scheduler_run(&s);
	/* Let the KBYE reach the router. */
	startup_peers_destroy(&s.peers, s.npeers, 1000);
	if (s.ctx != NULL)
		zmq_ctx_term(s.ctx);
	loop_destroy(&s.loop);
	sched_destroy(&s.sched);
	conf_destroy(&s.conf);
	startup_destroy(&s.startup);
	log_close();
	return rc;
}
