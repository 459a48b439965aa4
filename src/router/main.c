/*
 * main.c: gearhorn-router(8), the eMQP/1.0 broker daemon. Options and
 * configuration, three ROUTER sockets (CURVE servers when access.h says
 * so, with the ZAP handler on the same loop), one loop with one periodic
 * timer; every decision is the broker's (broker.c), but for who may INFORM
 * as what (access.c).
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <zmq.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "access.h"
#include "broker.h"
#include "conf.h"
#include "curve.h"
#include "journal.h"
#include "log.h"
#include "loop.h"
#include "startup.h"
#include "util.h"
#include "wire.h"

#define ROUTER_TICK_MS   250
#define ROUTER_BATCH     64
#define ROUTER_HWM       10000
#define ROUTER_LINGER_MS 1000
#define ROUTER_MMAP_MIN  (128 * 1024) /* bytes: larger blocks are mappings of their own */

static const char *const ep_keys[BROKER_ENDPOINTS] = {"frontend", "backend", "admin"};

static const startup_option_t router_options[] = {
    {'f', "frontend", "ENDPOINT", "frontend", 0, "endpoint for clients and schedulers"},
    {'b', "backend", "ENDPOINT", "backend", 0, "endpoint for job managers"},
    {'a', "admin", "ENDPOINT", "admin", 0, "endpoint for administration"},
    {0, "max-length", "N", "max_length", 0, "waiting requests per queue"},
    {0, "journal-recover", NULL, "journal_recover", 0,
     "start on the readable jobs of a damaged journal, keeping it aside"},
};
static const startup_program_t router_program = {"gearhorn-router", "router", router_options,
                                                 GH_ARRAY_LEN(router_options)};

typedef struct {
	startup_t *startup;
	conf_t *conf;
	void *ctx;
	void *sock[BROKER_ENDPOINTS];
	char *endpoint[BROKER_ENDPOINTS];
	access_t *access; /* CURVE keys; off without [router] curve_secret_key */
	void *zap;        /* the ZAP handler's REP socket when CURVE is on */
	loop_t *loop;
	broker_t *broker;
	journal_t *journal;
	size_t max_message_size;
} router_t;

/* The default of [router] max_bytes_total: a quarter of the physical
 * memory (in a container, sysconf reports the host's); 1 GiB if unknown. */
static size_t
router_default_bytes(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || page <= 0)
		return (size_t)1 << 30;
	return (size_t)pages / 4 * (size_t)page;
}

static void
router_broker_conf(const conf_t *c, broker_conf_t *bc)
{
	memset(bc, 0, sizeof(*bc));
	bc->max_length = conf_get_int(c, "router", "max_length");
	bc->max_waiting = conf_get_int(c, "router", "max_waiting");
	bc->max_bytes = (size_t)conf_get_int(c, "router", "max_bytes");
	bc->max_bytes_total = (size_t)conf_get_int(c, "router", "max_bytes_total");
	if (bc->max_bytes_total == 0)
		bc->max_bytes_total = router_default_bytes();
	bc->hb_interval_ms = (uint64_t)conf_get_int(c, "router", "heartbeat_interval") * 1000;
	bc->hb_timeout_ms = (uint64_t)conf_get_int(c, "router", "heartbeat_timeout") * 1000;
	bc->default_queue = conf_get(c, "router", "default_queue");
}

/* The wall clock in milliseconds since the epoch: the broker reads no clock,
 * so main reads both and passes them in. */
static int64_t
wall_ms(void)
{
	return (int64_t)(gh_wall_time() * 1000);
}

static int
router_send(void *ctx, int endpoint, const void *identity, size_t idlen, const gh_frame_t *frames,
            size_t n)
{
	router_t *r = ctx;
	return wire_send(r->sock[endpoint], identity, idlen, frames, n, ZMQ_DONTWAIT);
}

/* With CURVE on, an INFORM says what a peer will be, and its key must be
 * allowed to be that (access_inform): if not, answers ERROR denied and
 * returns 1, and the broker never sees the message. m and f (the frames of
 * m, n of them: identity, then the DEALER view) are borrowed. */
static int
router_denies(router_t *r, int ep, const wire_msg_t *m, const gh_frame_t *f, size_t n)
{
	char mid[GH_UUID_LEN + 1], text[512];
	const char *why;
	proto_msg_t pm, err;
	proto_err_t perr;

	/* The frames the broker would decode: what it would act on. */
	if (!access_on(r->access) || n < 4 || !gh_frame_is(f[3], "INFORM") ||
	    proto_decode(f + 1, n - 1, &pm, &perr) != 0 ||
	    (why = access_inform(r->access, ep, wire_user_id(m), &pm, text, sizeof(text))) == NULL)
		return 0;
	gh_uuid(mid);
	proto_msg_init(&err, PROTO_ERROR, mid);
	err.ref = pm.msgid;
	err.code = gh_frame_str("denied");
	err.text = gh_frame_str(why);
	if (wire_send_msg(r->sock[ep], f[0].data, f[0].size, &err, ZMQ_DONTWAIT, NULL) != 0)
		log_info("%s: cannot send ERROR denied: %s", ep_keys[ep], zmq_strerror(errno));
	return 1;
}

/* Group commit: the journal's transaction of this pass, then the broker
 * acknowledges what it holds (or learns that it failed). */
static void
router_commit(router_t *r)
{
	char err[512];
	int rc;

	if (!r->journal)
		return;
	rc = journal_commit(r->journal, err, sizeof(err));
	if (rc != 0)
		broker_journal_committed(r->broker, rc > 0, rc > 0 ? NULL : err);
}

static int
on_socket(loop_t *loop, void *sock, int fd, short revents, void *arg)
{
	router_t *r = arg;
	int64_t wall = wall_ms();
	int ep;

	GH_UNUSED(fd);
	GH_UNUSED(revents);
	for (ep = 0; ep < BROKER_ENDPOINTS && r->sock[ep] != sock; ep++)
		;
	if (ep == BROKER_ENDPOINTS)
		return 0;
	for (int i = 0; i < ROUTER_BATCH; i++) {
		wire_msg_t m;
		gh_frame_t f[WIRE_MAX_FRAMES];
		size_t n;

		if (wire_recv(sock, &m, r->max_message_size, ZMQ_DONTWAIT) != 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("%s: receive failed: %s", ep_keys[ep],
				         zmq_strerror(errno));
			break;
		}
		n = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
		if (n >= 1 && !router_denies(r, ep, &m, f, n))
			broker_handle(r->broker, ep, f[0].data, f[0].size, f + 1, n - 1,
			              m.oversized, loop_now(loop), wall);
		wire_msg_close(&m);
		if (broker_stopping(r->broker)) {
			loop_stop(loop);
			break;
		}
	}
	router_commit(r); /* one transaction per pass */
	return 0;
}

/* The ZAP handler: answers the handshakes of CURVE clients. */
static int
on_zap(loop_t *loop, void *sock, int fd, short revents, void *arg)
{
	router_t *r = arg;

	GH_UNUSED(loop);
	GH_UNUSED(fd);
	GH_UNUSED(revents);
	for (int i = 0; i < ROUTER_BATCH; i++)
		if (curve_zap_serve(access_auth(r->access), sock) != 0)
			break;
	return 0;
}

static int
on_tick(loop_t *loop, uint64_t timer_id, void *arg)
{
	router_t *r = arg;
	GH_UNUSED(timer_id);
	broker_tick(r->broker, loop_now(loop), wall_ms());
	router_commit(r);
	return 0;
}

static int
on_stop_signal(loop_t *loop, int signo, void *arg)
{
	router_t *r = arg;
	log_notice("signal %d: stopping", signo);
	broker_shutdown(r->broker);
	loop_stop(loop);
	return 0;
}

/* SIGHUP: the sets of authorized keys again from c. The router's own key
 * and whether CURVE is on take a restart (the sockets are bound). Keys
 * that leave a set are refused from their next connection on. */
static void
router_reload_keys(router_t *r, const conf_t *c)
{
	gh_error_t e;
	access_t *a;

	if (!access_on(r->access))
		return;
	if (conf_get(c, "router", "curve_secret_key")[0] == '\0') {
		log_warn("reload: CURVE stays on until a restart");
		return;
	}
	if ((a = access_new(c, &e)) == NULL) {
		log_error("reload: %s; keeping the previous keys", e.text);
		return;
	}
	access_destroy(&r->access);
	r->access = a;
}

static int
on_hup(loop_t *loop, int signo, void *arg)
{
	static const char *const restart[] = {"frontend",         "backend",     "admin",
	                                      "curve_secret_key", "admin_group", NULL};
	router_t *r = arg;
	conf_t *c;
	broker_conf_t bc;
	char err[256];

	GH_UNUSED(loop);
	GH_UNUSED(signo);
	if ((c = startup_reload(r->startup, r->conf, restart)) == NULL)
		return 0;
	router_reload_keys(r, c);
	router_broker_conf(c, &bc);
	broker_configure(r->broker, &bc);
	r->max_message_size = (size_t)conf_get_int(c, "router", "max_message_size");
	for (int ep = 0; ep < BROKER_ENDPOINTS; ep++)
		if (wire_set_max_frame(r->sock[ep], r->max_message_size, err, sizeof(err)) != 0)
			log_warn("reload: %s: %s", ep_keys[ep], err);
	conf_destroy(&r->conf);
	r->conf = c;
	log_notice("configuration reloaded");
	return 0;
}

static void
on_journal_add(void *ctx, const journal_job_t *job)
{
	journal_add(ctx, job);
}

static void
on_journal_del(void *ctx, const char *msgid)
{
	journal_del(ctx, msgid);
}

/* Takes a row of a journal being checked or salvaged if it holds a job. */
static int
on_journal_check(void *arg, const journal_job_t *job)
{
	GH_UNUSED(arg);
	return broker_restorable(job) ? 0 : -1;
}

static int
on_journal_replay(void *arg, const journal_job_t *job)
{
	router_t *r = arg;
	return broker_restore(r->broker, job, gh_now_ms(), wall_ms());
}

/* Checks the journal at path before it is opened to write. A damaged one
 * whose rows can all be read is rebuilt from them; one with rows that
 * cannot be read stops the router, unless [router] journal_recover
 * (--journal-recover) says to rebuild it from the rows that can. The
 * damaged file is kept aside. Returns 0, or the exit status. */
static int
router_check_journal(router_t *r, const char *path, journal_sync_t sync)
{
	char err[512], what[256], aside[4096];
	journal_report_t rep;
	long n;

	if (journal_check(path, on_journal_check, NULL, &rep, err, sizeof(err)) != 0) {
		log_error("cannot read the journal: %s", err);
		return EX_CANTCREAT;
	}
	if (!rep.damaged)
		return 0;
	journal_report_text(&rep, what, sizeof(what));
	if (rep.lost && !conf_get_bool(r->conf, "router", "journal_recover")) {
		log_error("journal %s is damaged (%s): %s; inspect it with `sqlite3 %s .recover` "
		          "or `PRAGMA integrity_check`, or start with --journal-recover to keep it "
		          "aside and go on with the %ld job(s) that can be read",
		          path, rep.problem, what, path, rep.restored);
		return EX_DATAERR;
	}
	n = journal_salvage(path, on_journal_check, NULL, sync, aside, sizeof(aside), err,
	                    sizeof(err));
	if (n < 0) {
		log_error("cannot rebuild the damaged journal %s: %s", path, err);
		return EX_CANTCREAT;
	}
	log_warn("journal %s was damaged (%s): %s; kept aside as %s (inspect it with `sqlite3 "
	         "%s .recover`); the journal now holds the %ld job(s) that could be read",
	         path, rep.problem, what, aside, aside, n);
	return 0;
}

/* Opens the journal if [router] journal is on and puts its jobs back. */
static int
router_open_journal(router_t *r)
{
	char *path, err[512];
	journal_report_t rep;
	journal_sync_t sync;
	int rc;

	if (!conf_get_bool(r->conf, "router", "journal"))
		return 0;
	path = startup_db_path(r->conf, "router", "journal_path", "router-journal.db");
	sync = strcmp(conf_get(r->conf, "router", "journal_sync"), "full") == 0
	           ? JOURNAL_SYNC_FULL
	           : JOURNAL_SYNC_NORMAL;
	if ((rc = router_check_journal(r, path, sync)) != 0) {
		free(path);
		return rc;
	}
	r->journal = journal_open(path, sync, err, sizeof(err));
	if (!r->journal) {
		log_error("cannot open the journal: %s", err);
		free(path);
		return EX_CANTCREAT;
	}
	if (journal_replay(r->journal, on_journal_replay, r, &rep, err, sizeof(err)) != 0 ||
	    rep.damaged) {
		/* It was read whole a moment ago. */
		log_error("journal %s: %s", path, rep.damaged ? rep.problem : err);
		free(path);
		return EX_DATAERR;
	}
	log_notice("journal %s: %ld job(s) restored", path, rep.restored);
	free(path);
	broker_set_journal(r->broker, on_journal_add, on_journal_del, r->journal);
	return 0;
}

/* Whether a tcp:// endpoint binds more than the loopback interface. */
static int
binds_beyond_loopback(const char *ep)
{
	static const char *const local[] = {"tcp://127.",
	                                    "tcp://localhost:", "tcp://[::1]:", "tcp://lo:"};

	if (strncmp(ep, "tcp://", 6) != 0)
		return 0;
	for (size_t i = 0; i < GH_ARRAY_LEN(local); i++)
		if (strncmp(ep, local[i], strlen(local[i])) == 0)
			return 0;
	return 1;
}

/* The admin socket file of an ipc:// endpoint: mode 0600, or 0660 and the
 * group [router] admin_group. zmq_bind creates it under the umask, so the
 * umask closes it from the start; the group comes after. Returns 0, or
 * EX_CONFIG / EX_UNAVAILABLE after logging why. */
static int
router_bind_admin(router_t *r, void *sock, const char *ep)
{
	const char *group = conf_get(r->conf, "router", "admin_group");
	const char *path = ep + strlen("ipc://");
	char err[512];
	struct group *g;
	mode_t old;
	int rc;

	if (strncmp(ep, "ipc://", 6) != 0 || path[0] == '@') {
		if (path[0] == '@')
			log_warn("admin: %s is an abstract socket: no file mode protects it", ep);
		rc = wire_attach(sock, ep, 1, err, sizeof(err));
	} else {
		old = umask(0177);
		rc = wire_attach(sock, ep, 1, err, sizeof(err));
		umask(old);
	}
	if (rc != 0) {
		log_error("cannot bind the admin endpoint: %s", err);
		return EX_UNAVAILABLE;
	}
	if (strncmp(ep, "ipc://", 6) != 0 || path[0] == '@' || group[0] == '\0')
		return 0;
	if ((g = getgrnam(group)) == NULL) {
		log_error("[router] admin_group: no group \"%s\"", group);
		return EX_CONFIG;
	}
	if (chown(path, (uid_t)-1, g->gr_gid) != 0 || chmod(path, 0660) != 0) {
		log_error("[router] admin_group: %s: %s", path, strerror(errno));
		return EX_CONFIG;
	}
	return 0;
}

/* The ZAP handler, bound before any CURVE socket: libzmq lets every key
 * in while none is. Its socket has no ZMQ_MAXMSGSIZE: it is inproc, which
 * libzmq does not bound, and its requests are built by libzmq from
 * handshakes that the endpoints' own limit bounds (wire_recv keeps at most
 * CURVE_ZAP_MAX bytes of one). Returns 0 or an exit status after logging
 * why. */
static int
router_open_zap(router_t *r)
{
	char err[512];

	r->zap = wire_socket_new(r->ctx, ZMQ_REP, ROUTER_HWM, err, sizeof(err));
	if (r->zap == NULL || zmq_bind(r->zap, CURVE_ZAP_ENDPOINT) != 0) {
		log_error("cannot bind the ZAP handler: %s",
		          r->zap == NULL ? err : zmq_strerror(errno));
		return EX_SOFTWARE;
	}
	loop_add_socket(r->loop, r->zap, ZMQ_POLLIN, on_zap, r);
	return 0;
}

static int
router_open(router_t *r)
{
	gh_error_t e;
	char err[512];
	int rc;

	if ((r->access = access_new(r->conf, &e)) == NULL) {
		return startup_log_fail(&e);
	}
	r->ctx = zmq_ctx_new();
	if (!r->ctx) {
		log_error("zmq_ctx_new: %s", zmq_strerror(errno));
		return EX_OSERR;
	}
	if (access_on(r->access) && (rc = router_open_zap(r)) != 0)
		return rc;
	for (int ep = 0; ep < BROKER_ENDPOINTS; ep++) {
		r->endpoint[ep] = gh_strdup(conf_get(r->conf, "router", ep_keys[ep]));
		r->sock[ep] = wire_socket_new(r->ctx, ZMQ_ROUTER, ROUTER_HWM, err, sizeof(err));
		if (!r->sock[ep] ||
		    wire_set_max_frame(r->sock[ep], r->max_message_size, err, sizeof(err)) != 0 ||
		    (access_on(r->access) &&
		     curve_server_apply(r->sock[ep], access_secret_key(r->access), ep_keys[ep], err,
		                        sizeof(err)) != 0)) {
			log_error("cannot open the %s: %s", ep_keys[ep], err);
			return EX_SOFTWARE;
		}
		if (ep == BROKER_ADMIN) {
			if ((rc = router_bind_admin(r, r->sock[ep], r->endpoint[ep])) != 0)
				return rc;
		} else if (wire_attach(r->sock[ep], r->endpoint[ep], 1, err, sizeof(err)) != 0) {
			log_error("cannot bind the %s: %s", ep_keys[ep], err);
			return EX_UNAVAILABLE;
		}
		loop_add_socket(r->loop, r->sock[ep], ZMQ_POLLIN, on_socket, r);
		log_info("%s bound to %s%s", ep_keys[ep], r->endpoint[ep],
		         access_on(r->access) ? " (CURVE)" : "");
		if (!access_on(r->access) && binds_beyond_loopback(r->endpoint[ep]))
			log_warn(
			    "%s %s is open to the network without CURVE: anyone who reaches it "
			    "may use it (see [router] curve_secret_key)",
			    ep_keys[ep], r->endpoint[ep]);
	}
	return 0;
}

static void
router_close(router_t *r)
{
	int linger = ROUTER_LINGER_MS;
	for (int ep = 0; ep < BROKER_ENDPOINTS; ep++) {
		if (r->sock[ep]) {
			loop_remove_socket(r->loop, r->sock[ep]);
			/* Let the last ACK, KBYEs and ERRORs go out. */
			zmq_setsockopt(r->sock[ep], ZMQ_LINGER, &linger, sizeof(linger));
			zmq_close(r->sock[ep]);
		}
		free(r->endpoint[ep]);
	}
	/* After the sockets whose handshakes it answers. */
	if (r->zap) {
		loop_remove_socket(r->loop, r->zap);
		zmq_close(r->zap);
	}
	if (r->ctx)
		zmq_ctx_term(r->ctx);
	access_destroy(&r->access);
}

/* Large blocks (job bodies, ZeroMQ frames) in mappings of their own, which
 * go back to the system when they are freed. Otherwise glibc raises its
 * mmap threshold to the largest block freed and keeps freed bodies in its
 * heaps, and the router's memory would stay at its peak instead of
 * following the bytes its jobs hold (max_bytes_total). */
static void
router_malloc_setup(void)
{
#ifdef __GLIBC__
	if (mallopt(M_MMAP_THRESHOLD, ROUTER_MMAP_MIN) != 1)
		log_warn("mallopt(M_MMAP_THRESHOLD) failed: freed jobs may stay in memory");
#endif
}

/* Sockets, broker, journal and timer; then the loop until a signal or an
 * admin DISCONNECT stops it. Returns the exit status. */
static int
router_run(router_t *r)
{
	broker_conf_t bc;
	int rc;

	router_malloc_setup();
	r->max_message_size = (size_t)conf_get_int(r->conf, "router", "max_message_size");
	r->loop = startup_loop(on_stop_signal, on_hup, r);
	if ((rc = router_open(r)) != 0)
		return rc;
	router_broker_conf(r->conf, &bc);
	r->broker = broker_new(&bc, router_send, r, gh_now_ms());
	if ((rc = router_open_journal(r)) != 0)
		return rc;
	loop_add_timer(r->loop, ROUTER_TICK_MS, ROUTER_TICK_MS, on_tick, r);
	log_notice("gearhorn-router %s started", PACKAGE_VERSION);
	if (loop_run(r->loop) != 0) {
		log_error("event loop failed: %s", zmq_strerror(errno));
		return EX_SOFTWARE;
	}
	log_notice("stopped");
	return EX_OK;
}

int
main(int argc, char **argv)
{
	router_t r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.startup = startup_new(&router_program);
	rc = startup_begin(r.startup, argc, argv, &r.conf);
	if (rc == STARTUP_RUN)
		rc = router_run(&r);
	router_close(&r);
	broker_destroy(&r.broker);
	journal_close(&r.journal);
	loop_destroy(&r.loop);
	conf_destroy(&r.conf);
	startup_destroy(&r.startup);
	return rc;
}
