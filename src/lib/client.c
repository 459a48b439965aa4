/*
 * client.c: the client half of the public API (see gearhorn.h).
 *
 * One DEALER socket per router frontend speaks eMQP/1.0 to it. Every
 * accepted request is acknowledged by the router with REPLY [msgid, our
 * msgid]; a result comes as REPLY [msgid, result, our msgid]; a refusal or
 * failure as ERROR [msgid, our msgid, code, text].
 *
 * Several routers: a request goes to the current router; when it is not
 * acknowledged within the wait, the socket to that router is closed and
 * opened anew (so that the copy still queued in it is dropped, not delivered
 * when the router comes back) and the same message, same msgid, goes to the
 * next router of the list, which becomes the current one. A router that was
 * only slow may still have taken the first copy: the job then runs twice, at
 * most once per router. Each router refuses a msgid it still holds
 * (duplicate-msgid), so a job never runs twice through one router.
 *
 * With CURVE keys (gearhorn_client_new_curve, gearhorn_admin_curve) the
 * socket is a CURVE client before it connects (curve.h); a router that
 * refuses the key never completes the handshake, so a request times out.
 *
 * A failure returns its class (gearhorn_err_t in gearhorn.h) beside the
 * message, so that no caller has to read the message to tell a timeout
 * from a refusal. gh_err's -1 is GEARHORN_ERR, the class of the rest.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "client_int.h"
#include "curve.h"
#include "gearhorn.h"
#include "proto.h"
#include "util.h"
#include "wire.h"

#define CLIENT_WAIT_MS     10000
#define CLIENT_MAX_MESSAGE WIRE_ROUTER_MAX_MESSAGE /* what a router may send */

typedef struct {
	char *endpoint;
	void *sock;
} client_router_t;

struct gearhorn_client {
	void *ctx;
	int own_ctx;
	int curve;             /* a CURVE client: a refused key looks like a silent router */
	gearhorn_curve_t keys; /* to open a router's socket anew */
	client_router_t *routers;
	size_t nrouters, cur; /* cur: the router requests go to first */
};

/* A DEALER socket connected to endpoints, a CURVE client with keys when
 * they are on. Returns it (caller owns it) or NULL with err. */
static void *
client_socket(void *ctx, const char *endpoints, const gearhorn_curve_t *keys, int hwm, char *err,
              size_t errlen)
{
	void *sock = wire_socket_new(ctx, ZMQ_DEALER, hwm, err, errlen);

	if (sock == NULL)
		return NULL;
	if (wire_set_max_frame(sock, CLIENT_MAX_MESSAGE, err, errlen) != 0 ||
	    curve_client_apply(sock, keys, err, errlen) != 0 ||
	    wire_attach(sock, endpoints, 0, err, errlen) != 0) {
		zmq_close(sock);
		return NULL;
	}
	return sock;
}

/* Closes router i's socket, dropping what is still queued in it, and opens
 * a new one. Returns 0, or -1 with err. */
static int
router_reopen(gearhorn_client_t *c, size_t i, char *err, size_t errlen)
{
	client_router_t *r = &c->routers[i];

	if (r->sock != NULL)
		zmq_close(r->sock);
	r->sock =
	    client_socket(c->ctx, r->endpoint, c->curve ? &c->keys : NULL, 10000, err, errlen);
	return r->sock != NULL ? 0 : -1;
}

static void
client_free(gearhorn_client_t *c)
{
	for (size_t i = 0; i < c->nrouters; i++) {
		if (c->routers[i].sock != NULL)
			zmq_close(c->routers[i].sock);
		free(c->routers[i].endpoint);
	}
	free(c->routers);
	explicit_bzero(&c->keys, sizeof(c->keys));
	free(c);
}

gearhorn_client_t *
client_new_in(void *ctx, const char *endpoints, const gearhorn_curve_t *keys, char *err,
              size_t errlen)
{
	gearhorn_client_t *c = gh_calloc(1, sizeof(*c));
	char **list;
	size_t n = wire_split(endpoints, &list);

	c->ctx = ctx;
	c->curve = curve_client_on(keys);
	if (c->curve)
		c->keys = *keys;
	if (n == 0) {
		gh_err(err, errlen, "connect: no endpoint given");
		free(c);
		return NULL;
	}
	c->routers = gh_calloc(n, sizeof(*c->routers));
	c->nrouters = n;
	for (size_t i = 0; i < n; i++)
		c->routers[i].endpoint = list[i];
	free(list);
	for (size_t i = 0; i < n; i++)
		if (router_reopen(c, i, err, errlen) != 0) {
			client_free(c);
			return NULL;
		}
	return c;
}

const char *
client_current(const gearhorn_client_t *c)
{
	return c->routers[c->cur].endpoint;
}

gearhorn_client_t *
gearhorn_client_new_curve(const char *endpoints, const gearhorn_curve_t *keys, char *err,
                          size_t errlen)
{
	gearhorn_client_t *c;
	void *ctx = zmq_ctx_new();

	if (ctx == NULL) {
		gh_err(err, errlen, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
		return NULL;
	}
	if ((c = client_new_in(ctx, endpoints, keys, err, errlen)) == NULL) {
		zmq_ctx_term(ctx);
		return NULL;
	}
	c->own_ctx = 1;
	return c;
}

gearhorn_client_t *
gearhorn_client_new(const char *endpoints, char *err, size_t errlen)
{
	return gearhorn_client_new_curve(endpoints, NULL, err, errlen);
}

void
gearhorn_client_destroy(gearhorn_client_t **self_p)
{
	gearhorn_client_t *c;

	if (self_p == NULL || (c = *self_p) == NULL)
		return;
	void *ctx = c->ctx;
	int own_ctx = c->own_ctx;

	client_free(c);
	if (own_ctx)
		zmq_ctx_term(ctx);
	*self_p = NULL;
}

void
gearhorn_submit_opts_init(gearhorn_submit_opts_t *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->retries = -1;
	opts->timeout = -1;
	opts->ttl = -1;
}

static uint64_t
deadline_after(long wait_ms)
{
	return gh_now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : CLIENT_WAIT_MS);
}

/* Waits for the next REPLY, ACK or ERROR that refers to msgid (or, with
 * msgid NULL, the next one at all: an admin REPLY carries only its JSON).
 * Returns 1 and fills msg (borrowing from m, which the caller closes) when
 * one arrived, 0 on timeout, -1 on a socket error. Messages about other
 * requests and heartbeats are skipped. */
static int
await(void *sock, const char *msgid, uint64_t deadline, wire_msg_t *m, proto_msg_t *msg)
{
	for (;;) {
		gh_frame_t f[WIRE_MAX_FRAMES];
		zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
		uint64_t now = gh_now_ms();
		proto_err_t perr;
		size_t n;
		int rc;

		if (now >= deadline)
			return 0;
		rc = zmq_poll(&item, 1, (long)(deadline - now));
		if (rc < 0 && zmq_errno() != EINTR)
			return -1;
		if (rc <= 0)
			continue;
		if (wire_recv(sock, m, CLIENT_MAX_MESSAGE, ZMQ_DONTWAIT) != 0)
			continue;
		n = wire_frames(m, 0, f, GH_ARRAY_LEN(f));
		if (!m->truncated && !m->oversized && proto_decode(f, n, msg, &perr) == 0 &&
		    (msg->cmd == PROTO_REPLY || msg->cmd == PROTO_ERROR || msg->cmd == PROTO_ACK) &&
		    (msgid == NULL || gh_frame_is(msg->ref, msgid)))
			return 1;
		wire_msg_close(m);
	}
}

/* Writes the router's ERROR as "CODE: TEXT" and returns its class. */
static int
error_reply(const proto_msg_t *msg, char *err, size_t errlen)
{
	gh_err(err, errlen, "%.*s: %.*s", (int)msg->code.size, msg->code.data, (int)msg->text.size,
	       msg->text.data);
	return GEARHORN_ERR_REFUSED;
}

/* Writes why no answer came for what ("acknowledgement", "result") after
 * await returned got (0 or -1), and returns its class. curve: we spoke
 * CURVE, and a router that does not take our key never answers. */
static int
no_answer(int got, const char *what, int curve, char *err, size_t errlen)
{
	if (got < 0)
		return gh_err(err, errlen, "receive: %s", zmq_strerror(zmq_errno()));
	gh_err(err, errlen, "timeout: no %s from the router in time%s", what,
	       curve ? " (CURVE: does the router take our key?)" : "");
	return GEARHORN_ERR_TIMEOUT;
}

/* Encodes msg and sends it on sock (to endpoint, named in errors; NULL for
 * the client's routers). Returns 0, or -1 with a message in err. */
static int
send_msg(void *sock, const proto_msg_t *msg, const char *endpoint, char *err, size_t errlen)
{
	proto_err_t perr;

	if (wire_send_msg(sock, NULL, 0, msg, 0, &perr) == 0)
		return 0;
	if (perr.code != PROTO_OK)
		return gh_err(err, errlen, "%s", perr.text);
	return gh_err(err, errlen, "send%s%s: %s", endpoint != NULL ? " to " : "",
	              endpoint != NULL ? endpoint : "", zmq_strerror(errno));
}

/* Encodes msg, sends it to the current router and waits up to wait_ms for
 * its acknowledgement (REPLY [msgid, our msgid]) or refusal (ERROR); with
 * no answer in time, fails over to the next router with the same msgid (see
 * the top of the file), each router in turn once. Returns 0 or a
 * gearhorn_err_t; on 0 the router that acknowledged is the current one. */
static int
send_and_ack(gearhorn_client_t *c, proto_msg_t *msg, long wait_ms, char *err, size_t errlen)
{
	char msgid[PROTO_MAX_MSGID + 1];
	proto_msg_t in;
	wire_msg_t m;
	int rc = 0;

	memcpy(msgid, msg->msgid.data, msg->msgid.size);
	msgid[msg->msgid.size] = '\0';
	for (size_t tries = 0; tries < c->nrouters; tries++) {
		size_t i = (c->cur + tries) % c->nrouters;
		void *sock = c->routers[i].sock;

		if (send_msg(sock, msg, c->nrouters > 1 ? c->routers[i].endpoint : NULL, err,
		             errlen) != 0)
			return -1;
		if ((rc = await(sock, msgid, deadline_after(wait_ms), &m, &in)) > 0) {
			c->cur = i;
			rc = in.cmd == PROTO_ERROR ? error_reply(&in, err, errlen) : 0;
			wire_msg_close(&m);
			return rc;
		}
		if (rc < 0)
			break;
		/* No answer: drop the copy still queued for this router. */
		if (router_reopen(c, i, err, errlen) != 0)
			return -1;
	}
	if (rc == 0 && c->nrouters > 1) {
		gh_err(err, errlen, "timeout: no acknowledgement from any of %zu routers in time%s",
		       c->nrouters, c->curve ? " (CURVE: do the routers take our key?)" : "");
		return GEARHORN_ERR_TIMEOUT;
	}
	return no_answer(rc, "acknowledgement", c->curve, err, errlen);
}

void
gearhorn_schedule_opts_init(gearhorn_schedule_opts_t *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->interval = -1;
	opts->run_count = -1;
}

static int
send_schedule(gearhorn_client_t *c, proto_cmd_t cmd, const char *queue, const char *body,
              size_t body_len, const gearhorn_schedule_opts_t *o, char *err, size_t errlen)
{
	char msgid[GH_UUID_LEN + 1], hbuf[PROTO_HEADERS_FORMAT_SIZE], ibuf[24];
	proto_msg_t msg;

	gh_uuid(msgid);
	proto_msg_init(&msg, cmd, msgid);
	msg.queue = gh_frame_str(queue);
	msg.body = (gh_frame_t){body, body_len};
	if (o->nohaste)
		msg.hdr.flags |= PROTO_H_NOHASTE;
	if (o->guarantee)
		msg.hdr.flags |= PROTO_H_GUARANTEE;
	if (o->run_count > 0)
		msg.hdr.run_count = o->run_count;
	if (proto_msg_set_headers(&msg, hbuf, sizeof(hbuf)) != 0)
		return gh_err(err, errlen, "headers do not fit");
	snprintf(ibuf, sizeof(ibuf), "%ld", o->cron != NULL ? -1L : o->interval);
	msg.interval = gh_frame_str(ibuf);
	msg.cron = o->cron != NULL ? gh_frame_str(o->cron) : (gh_frame_t){"", 0};
	return send_and_ack(c, &msg, o->wait_ms, err, errlen);
}

int
gearhorn_schedule(gearhorn_client_t *c, const char *queue, const char *body, size_t body_len,
                  const gearhorn_schedule_opts_t *opts, char *err, size_t errlen)
{
	if ((opts->cron == NULL) == (opts->interval < 1))
		return gh_err(err, errlen, "give either an interval of at least 1 s or a cron");
	return send_schedule(c, PROTO_SCHEDULE, queue, body, body_len, opts, err, errlen);
}

int
gearhorn_unschedule(gearhorn_client_t *c, const char *body, size_t body_len, long wait_ms,
                    char *err, size_t errlen)
{
	gearhorn_schedule_opts_t o;

	/* EventMQ sends UNSCHEDULE with all nine frames; only the job counts. */
	gearhorn_schedule_opts_init(&o);
	o.wait_ms = wait_ms;
	return send_schedule(c, PROTO_UNSCHEDULE, "default", body, body_len, &o, err, errlen);
}

int
gearhorn_submit(gearhorn_client_t *c, const char *queue, const char *body, size_t body_len,
                const gearhorn_submit_opts_t *opts, char **result, size_t *result_len, char *err,
                size_t errlen)
{
	char msgid[GH_UUID_LEN + 1], hbuf[PROTO_HEADERS_FORMAT_SIZE];
	gearhorn_submit_opts_t dflt;
	proto_msg_t msg, in;
	wire_msg_t m;
	uint64_t deadline;
	void *sock;
	int rc;

	if (result != NULL)
		*result = NULL;
	if (result_len != NULL)
		*result_len = 0;
	if (opts == NULL) {
		gearhorn_submit_opts_init(&dflt);
		opts = &dflt;
	}
	gh_uuid(msgid);
	proto_msg_init(&msg, PROTO_REQUEST, msgid);
	msg.queue = gh_frame_str(queue);
	msg.body = (gh_frame_t){body, body_len};
	if (opts->wait)
		msg.hdr.flags |= PROTO_H_REPLY_REQUESTED;
	if (opts->guarantee)
		msg.hdr.flags |= PROTO_H_GUARANTEE;
	if (opts->guarantee && opts->retries >= 0)
		msg.hdr.retry_count = opts->retries;
	if (opts->timeout >= 0)
		msg.hdr.timeout = opts->timeout;
	if (opts->ttl >= 0)
		msg.hdr.ttl = opts->ttl;
	if (proto_msg_set_headers(&msg, hbuf, sizeof(hbuf)) != 0)
		return gh_err(err, errlen, "headers do not fit");
	if ((rc = send_and_ack(c, &msg, opts->ack_wait_ms > 0 ? opts->ack_wait_ms : opts->wait_ms,
	                       err, errlen)) != 0)
		return rc;
	if (!opts->wait)
		return 0;
	/* The result comes from the router that acknowledged the job. */
	sock = c->routers[c->cur].sock;
	deadline = deadline_after(opts->wait_ms);
	for (;;) {
		if ((rc = await(sock, msgid, deadline, &m, &in)) <= 0)
			return no_answer(rc, "result", 0, err, errlen);
		if (in.cmd == PROTO_ERROR) {
			rc = error_reply(&in, err, errlen);
			wire_msg_close(&m);
			return rc;
		}
		if (in.cmd == PROTO_REPLY && in.result.data != NULL) {
			if (result != NULL)
				*result = gh_strndup(in.result.data, in.result.size);
			if (result_len != NULL)
				*result_len = in.result.size;
			wire_msg_close(&m);
			return 0;
		}
		wire_msg_close(&m);
	}
}

int
gearhorn_admin(const char *endpoint, const char *command, long wait_ms, char **reply, char *err,
               size_t errlen)
{
	return gearhorn_admin_curve(endpoint, NULL, command, wait_ms, reply, err, errlen);
}

/* gearhorn_admin_curve to one endpoint. */
static int
admin_one(const char *endpoint, const gearhorn_curve_t *keys, const char *command, long wait_ms,
          char **reply, char *err, size_t errlen)
{
	char msgid[GH_UUID_LEN + 7] = "admin:";
	proto_msg_t out, in;
	proto_cmd_t cmd;
	wire_msg_t m;
	void *ctx, *sock;
	int rc = GEARHORN_ERR, got;

	if (reply != NULL)
		*reply = NULL;
	cmd = proto_cmd_lookup(command, command != NULL ? strlen(command) : 0);
	if (cmd == PROTO_NONE)
		return gh_err(err, errlen, "unknown command \"%s\"",
		              command != NULL ? command : "");
	gh_uuid(msgid + 6);
	proto_msg_init(&out, cmd, msgid);
	ctx = zmq_ctx_new();
	sock = client_socket(ctx, endpoint, keys, 1000, err, errlen);
	if (sock == NULL) {
		zmq_ctx_term(ctx);
		return GEARHORN_ERR;
	}
	if (send_msg(sock, &out, endpoint, err, errlen) != 0)
		goto out;
	got = await(sock, NULL, gh_now_ms() + (uint64_t)(wait_ms > 0 ? wait_ms : CLIENT_WAIT_MS),
	            &m, &in);
	if (got <= 0) {
		gh_err(err, errlen, "no answer from %s%s", endpoint,
		       curve_client_on(keys) ? " (CURVE: does the router take our key?)" : "");
		rc = got == 0 ? GEARHORN_ERR_TIMEOUT : GEARHORN_ERR;
		goto out;
	}
	if (in.cmd == PROTO_ERROR) {
		rc = error_reply(&in, err, errlen);
	} else {
		/* An admin REPLY carries its JSON as its one argument. */
		if (in.cmd == PROTO_REPLY && reply != NULL)
			*reply = gh_strndup(in.ref.data, in.ref.size);
		rc = 0;
	}
	wire_msg_close(&m);
out:
	zmq_close(sock);
	zmq_ctx_term(ctx);
	return rc;
}

int
client_admin(const char *endpoints, const gearhorn_curve_t *keys, const char *command, long wait_ms,
             char **reply, char **answered, char *err, size_t errlen)
{
	char **list;
	size_t n = wire_split(endpoints, &list);
	int rc = GEARHORN_ERR;

	if (answered != NULL)
		*answered = NULL;
	if (n == 0)
		rc = gh_err(err, errlen, "connect: no endpoint given");
	/* The first router that answers, refusal or not, is the one asked. */
	for (size_t i = 0; i < n; i++) {
		rc = admin_one(list[i], keys, command, wait_ms, reply, err, errlen);
		if (rc != GEARHORN_ERR_TIMEOUT) {
			if (answered != NULL)
				*answered = gh_strdup(list[i]);
			break;
		}
	}
	wire_split_free(list, n);
	return rc;
}

int
gearhorn_admin_curve(const char *endpoint, const gearhorn_curve_t *keys, const char *command,
                     long wait_ms, char **reply, char *err, size_t errlen)
{
	return client_admin(endpoint, keys, command, wait_ms, reply, NULL, err, errlen);
}
