/*
 * peer.c: the near end of a router connection. See peer.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "curve.h"
#include "log.h"
#include "peer.h"
#include "util.h"

#define PEER_TICK_MS       500
#define PEER_GOODBYE_DRAIN 4096 /* messages read before KBYE at most */
#define PEER_INFORMS       4    /* INFORM msgids an ACK may name */
#define PEER_LIVENESS      3    /* heartbeat_timeout periods without a word: the router is gone */
#define PEER_BATCH         64   /* messages handled per wakeup, so timers get their turn */

struct peer {
	loop_t *loop;
	void *ctx, *sock;
	peer_config_t cfg;
	char *type, *queues;
	char **endpoints;
	size_t cur;
	char identity[GH_UUID_LEN + 1];
	/* The msgids of our last INFORMs on this connection: an ACK of any of
	 * them registers us, since a router slower than heartbeat_timeout
	 * answers one INFORM while we send the next. */
	char informs[PEER_INFORMS][GH_UUID_LEN];
	size_t ninforms;
	int registered, stopping;
	size_t offered; /* READYs sent since the last INFORM, not yet used by a REQUEST */
	uint64_t last_rx, last_tx, inform_at;
	uint64_t tick;
};

static int on_socket(loop_t *loop, void *sock, int fd, short revents, void *arg);

int
peer_send(peer_t *p, proto_msg_t *m)
{
	proto_err_t perr;

	if (p == NULL || p->sock == NULL)
		return -1;
	if (wire_send_msg(p->sock, NULL, 0, m, ZMQ_DONTWAIT, &perr) == -1) {
		if (perr.code != PROTO_OK)
			log_error("cannot encode %s: %s", proto_cmd_name(m->cmd), perr.text);
		else
			log_warn("cannot send %s to %s: %s", proto_cmd_name(m->cmd),
			         p->endpoints[p->cur], zmq_strerror(errno));
		return -1;
	}
	p->last_tx = loop_now(p->loop);
	log_debug("sent %s", proto_cmd_name(m->cmd));
	return 0;
}

void
peer_send_cmd(peer_t *p, proto_cmd_t cmd)
{
	char id[GH_UUID_LEN + 1], ts[64];
	proto_msg_t m;

	gh_uuid(id);
	proto_msg_init(&m, cmd, id);
	if (cmd == PROTO_HEARTBEAT) {
		snprintf(ts, sizeof(ts), "%.6f", gh_wall_time());
		m.timestamp = gh_frame_str(ts);
	}
	peer_send(p, &m);
}

static void
send_inform(peer_t *p)
{
	char id[GH_UUID_LEN + 1];
	proto_msg_t m;

	gh_uuid(id);
	memcpy(p->informs[p->ninforms++ % PEER_INFORMS], id, GH_UUID_LEN);
	proto_msg_init(&m, PROTO_INFORM, id);
	m.queues = gh_frame_str(p->queues);
	m.peer_type = gh_frame_str(p->type);
	p->registered = 0;
	p->offered = 0;
	p->inform_at = loop_now(p->loop);
	log_info("INFORM %s as a %s%s%s", p->endpoints[p->cur], p->type,
	         *p->queues ? " with queues " : "", p->queues);
	peer_send(p, &m);
}

static void
disconnect(peer_t *p)
{
	if (p->sock != NULL) {
		loop_remove_socket(p->loop, p->sock);
		zmq_close(p->sock);
		p->sock = NULL;
	}
	p->registered = 0;
	p->offered = 0;
	p->ninforms = 0;
}

/* Connects to the current endpoint with a fresh identity and INFORMs it. */
static int
connect_current(peer_t *p)
{
	const char *ep = p->endpoints[p->cur];
	char err[256];
	int zero = 0;

	disconnect(p);
	gh_uuid(p->identity);
	if ((p->sock = zmq_socket(p->ctx, ZMQ_DEALER)) == NULL) {
		log_error("zmq_socket: %s", zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(p->sock, ZMQ_SNDHWM, &p->cfg.hwm, sizeof(p->cfg.hwm));
	zmq_setsockopt(p->sock, ZMQ_RCVHWM, &p->cfg.hwm, sizeof(p->cfg.hwm));
	zmq_setsockopt(p->sock, ZMQ_ROUTING_ID, p->identity, GH_UUID_LEN);
	/* Whatever a router may send, so that none we trust drops us; a frame
	 * past that is no router's. */
	if (wire_set_max_frame(p->sock,
	                       p->cfg.max_message > WIRE_ROUTER_MAX_MESSAGE
	                           ? p->cfg.max_message
	                           : WIRE_ROUTER_MAX_MESSAGE,
	                       err, sizeof(err)) != 0 ||
	    curve_client_apply(p->sock, &p->cfg.curve, err, sizeof(err)) != 0) {
		log_error("%s: %s", ep, err);
		zmq_close(p->sock);
		p->sock = NULL;
		return -1;
	}
	if (zmq_connect(p->sock, ep) == -1) {
		log_error("cannot connect to %s: %s", ep, zmq_strerror(errno));
		zmq_close(p->sock);
		p->sock = NULL;
		return -1;
	}
	loop_add_socket(p->loop, p->sock, ZMQ_POLLIN, on_socket, p);
	p->last_rx = loop_now(p->loop);
	log_info("connected to %s as %s%s", ep, p->identity,
	         curve_client_on(&p->cfg.curve) ? " (CURVE)" : "");
	send_inform(p);
	return 0;
}

/* The connection is gone or going: a new identity on the next router. */
static void
reconnect(peer_t *p, const char *why)
{
	log_warn("router %s: %s; reconnecting", p->endpoints[p->cur], why);
	if (p->cfg.lost != NULL)
		p->cfg.lost(p, why, p->cfg.arg);
	disconnect(p);
	for (size_t tries = 0; tries < p->cfg.nendpoints; tries++) {
		p->cur = (p->cur + 1) % p->cfg.nendpoints;
		if (connect_current(p) == 0)
			return;
	}
}

/* Whether ref names one of our INFORMs on this connection. */
static int
acks_inform(const peer_t *p, gh_frame_t ref)
{
	size_t n = p->ninforms < PEER_INFORMS ? p->ninforms : PEER_INFORMS;

	for (size_t i = 0; i < n; i++)
		if (ref.size == GH_UUID_LEN && memcmp(ref.data, p->informs[i], GH_UUID_LEN) == 0)
			return 1;
	return 0;
}

/* Handles what the connection itself is about; returns 1 if it did. */
static int
handle_own(peer_t *p, const proto_msg_t *m)
{
	char c[64], t[256];

	switch (m->cmd) {
	case PROTO_ACK:
		if (!p->registered && acks_inform(p, m->ref)) {
			log_info("router %s acknowledged us", p->endpoints[p->cur]);
			p->registered = 1;
			if (p->cfg.registered != NULL)
				p->cfg.registered(p, p->cfg.arg);
		}
		return 1;
	case PROTO_HEARTBEAT:
		return 1;
	case PROTO_KBYE:
		if (!p->stopping)
			reconnect(p, "said goodbye (KBYE)");
		return 1;
	case PROTO_ERROR:
		if (!gh_frame_is(m->code, "unknown-peer"))
			return 0;
		if (!p->stopping) {
			log_warn("router %s forgot us (%s); informing it again",
			         p->endpoints[p->cur],
			         log_escape(m->text.data, m->text.size, t, sizeof(t)));
			send_inform(p);
		} else {
			log_info("router %s: %s", p->endpoints[p->cur],
			         log_escape(m->code.data, m->code.size, c, sizeof(c)));
		}
		return 1;
	default:
		return 0;
	}
}

/* Receives one message and hands it on. Returns 0, or -1 when none is
 * waiting (or the socket failed, which is logged). */
static int
read_one(peer_t *p)
{
	gh_frame_t f[WIRE_MAX_FRAMES];
	proto_msg_t m;
	proto_err_t perr;
	wire_msg_t wm;
	size_t n;

	if (wire_recv(p->sock, &wm, p->cfg.max_message, ZMQ_DONTWAIT) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_error("receive from %s: %s", p->endpoints[p->cur], zmq_strerror(errno));
		return -1;
	}
	p->last_rx = loop_now(p->loop);
	n = wire_frames(&wm, 0, f, GH_ARRAY_LEN(f));
	/* A REQUEST uses one READY, whether it decodes or not. */
	if (n >= 3 && gh_frame_is(f[2], "REQUEST") && p->offered > 0)
		p->offered--;
	if (wm.oversized || wm.truncated)
		p->cfg.message(p, NULL, &wm, NULL, p->cfg.arg);
	else if (proto_decode(f, n, &m, &perr) == -1)
		p->cfg.message(p, &m, &wm, &perr, p->cfg.arg);
	else if (!handle_own(p, &m))
		p->cfg.message(p, &m, &wm, NULL, p->cfg.arg);
	wire_msg_close(&wm);
	return 0;
}

static int
on_socket(loop_t *loop, void *sock, int fd, short revents, void *arg)
{
	peer_t *p = arg;

	GH_UNUSED(loop);
	GH_UNUSED(fd);
	GH_UNUSED(revents);
	for (int i = 0; i < PEER_BATCH && p->sock == sock; i++)
		if (read_one(p) == -1)
			break;
	return 0;
}

/* A HEARTBEAT once heartbeat_interval has passed with nothing sent (within
 * half a tick, so that the period does not slip by a whole one). */
static void
heartbeat_if_quiet(peer_t *p, uint64_t now)
{
	if (now - p->last_tx + PEER_TICK_MS / 2 >= (uint64_t)p->cfg.hb_interval_ms)
		peer_send_cmd(p, PROTO_HEARTBEAT);
}

static int
on_tick(loop_t *loop, uint64_t id, void *arg)
{
	peer_t *p = arg;
	uint64_t now = loop_now(loop);
	uint64_t dead_ms = (uint64_t)p->cfg.hb_timeout_ms * PEER_LIVENESS;

	GH_UNUSED(id);
	if (p->stopping) {
		/* Still alive while our last jobs finish. */
		if (p->registered)
			heartbeat_if_quiet(p, now);
		return 0;
	}
	if (p->sock == NULL) {
		reconnect(p, "not connected");
		return 0;
	}
	if (now - p->last_rx >= dead_ms) {
		reconnect(p, p->registered ? "no heartbeat" : "no answer to INFORM");
		return 0;
	}
	if (!p->registered) {
		if (now - p->inform_at >= (uint64_t)p->cfg.hb_timeout_ms)
			send_inform(p);
		return 0;
	}
	heartbeat_if_quiet(p, now);
	return 0;
}

peer_t *
peer_new(loop_t *loop, void *ctx, const peer_config_t *cfg, char *err, size_t errlen)
{
	peer_t *p = gh_calloc(1, sizeof(*p));
	size_t i;

	p->loop = loop;
	p->ctx = ctx;
	p->cfg = *cfg;
	p->type = gh_strdup(cfg->type);
	p->queues = gh_strdup(cfg->queues ? cfg->queues : "");
	p->endpoints = gh_calloc(cfg->nendpoints, sizeof(*p->endpoints));
	for (i = 0; i < cfg->nendpoints; i++)
		p->endpoints[i] = gh_strdup(cfg->endpoints[i]);
	p->cfg.endpoints = NULL;
	p->tick = loop_add_timer(loop, PEER_TICK_MS, PEER_TICK_MS, on_tick, p);
	for (i = 0; i < cfg->nendpoints; i++, p->cur = (p->cur + 1) % cfg->nendpoints)
		if (connect_current(p) == 0)
			return p;
	gh_err(err, errlen, "cannot connect to any router endpoint");
	peer_destroy(&p, 0);
	return NULL;
}

void
peer_destroy(peer_t **self_p, int linger_ms)
{
	peer_t *p;

	if (self_p == NULL || (p = *self_p) == NULL)
		return;
	if (p->sock != NULL)
		zmq_setsockopt(p->sock, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
	disconnect(p);
	loop_cancel_timer(p->loop, p->tick);
	for (size_t i = 0; i < p->cfg.nendpoints; i++)
		free(p->endpoints[i]);
	free(p->endpoints);
	free(p->type);
	free(p->queues);
	explicit_bzero(&p->cfg.curve, sizeof(p->cfg.curve));
	free(p);
	*self_p = NULL;
}

void
peer_offer(peer_t *p, size_t free_slots)
{
	if (p == NULL || !p->registered || p->stopping)
		return;
	while (p->offered < free_slots) {
		peer_send_cmd(p, PROTO_READY);
		p->offered++;
	}
}

int
peer_registered(const peer_t *p)
{
	return p != NULL && p->registered;
}

const char *
peer_endpoint(const peer_t *p)
{
	return p->endpoints[p->cur];
}

void
peer_set_heartbeat(peer_t *p, long interval_ms, long timeout_ms)
{
	p->cfg.hb_interval_ms = interval_ms;
	p->cfg.hb_timeout_ms = timeout_ms;
}

void
peer_stop(peer_t *p)
{
	p->stopping = 1;
}

void
peer_goodbye(peer_t *p)
{
	p->stopping = 1;
	/* A bounded drain: a router that keeps sending cannot hold us here. */
	for (int i = 0; i < PEER_GOODBYE_DRAIN && p->sock != NULL; i++)
		if (read_one(p) == -1)
			break;
	if (p->sock != NULL)
		peer_send_cmd(p, PROTO_KBYE);
}

void
peer_send_error(peer_t *p, const char *ref, const char *code, const char *text, size_t len)
{
	char id[GH_UUID_LEN + 1], esc[1024];
	proto_msg_t m;

	gh_uuid(id);
	proto_msg_init(&m, PROTO_ERROR, id);
	m.ref = gh_frame_str(ref);
	m.code = gh_frame_str(code);
	m.text = (gh_frame_t){text, len};
	if (peer_send(p, &m) == -1) {
		log_escape(text, len, esc, sizeof(esc));
		m.text = gh_frame_str(esc);
		peer_send(p, &m);
	}
}

int
peer_failed_request(const proto_msg_t *m, const wire_msg_t *raw, char *ref)
{
	gh_frame_t f[WIRE_MAX_FRAMES], id = {NULL, 0};

	if (m == NULL) {
		size_t n = wire_frames(raw, 0, f, GH_ARRAY_LEN(f));

		if (n >= 4 && gh_frame_is(f[2], "REQUEST"))
			id = f[3];
	} else if (m->cmd == PROTO_REQUEST) {
		id = m->msgid;
	}
	if (id.data == NULL || !proto_valid_msgid(id.data, id.size))
		return 0;
	memcpy(ref, id.data, id.size);
	ref[id.size] = '\0';
	return 1;
}

int
peer_refuse_failed(peer_t *p, const proto_msg_t *m, const wire_msg_t *raw, const proto_err_t *err)
{
	char ref[PROTO_MAX_MSGID + 1];
	const char *why = m == NULL ? "job too large" : err->text;

	log_warn("%s message from the router%s%s", m == NULL ? "an oversized" : "a bad",
	         err ? ": " : "", err ? err->text : "");
	if (!peer_failed_request(m, raw, ref))
		return 0;
	peer_send_error(p, ref, "bad-job", why, strlen(why));
	return 1;
}

void
peer_log_ignored(const proto_msg_t *m)
{
	char t[256], c[64];

	if (m->cmd == PROTO_ERROR)
		log_warn("router error %s: %s",
		         log_escape(m->code.data, m->code.size, c, sizeof(c)),
		         log_escape(m->text.data, m->text.size, t, sizeof(t)));
	else
		log_debug("ignoring %s from the router", proto_cmd_name(m->cmd));
}
