/*
 * backend.c: the main thread, as a job manager on the router backends for
 * the queues of [bridge] to_gearman. Each REQUEST goes to an idle slot
 * thread (gslot.c); only idle slots are offered with READY, and none for a
 * while after gearmand could not be reached. The stop: no new jobs; jobs
 * in flight finish; then KBYE. A second signal says KBYE at once.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <zmq.h>

#include "bridge_int.h"
#include "log.h"
#include "proto.h"
#include "wire.h"

#define BRIDGE_HWM         100000
#define BRIDGE_MAX_MESSAGE (16u * 1024 * 1024 + 65536)

static void
send_error(bridge_t *b, const char *ref, const char *code, const char *text, size_t len)
{
	peer_send_error(b->peer, ref, code, text, len);
}

/* Offers the router every idle slot, unless gearmand was unreachable a
 * moment ago. */
static void
advertise(bridge_t *b)
{
	if (!b->stopping && loop_now(b->loop) >= b->backoff_until)
		peer_offer(b->peer, b->nidle);
}

static int
on_backoff_over(loop_t *loop, uint64_t id, void *arg)
{
	bridge_t *b = arg;

	GH_UNUSED(id);
	b->backoff_timer = 0;
	/* A later not-run moved the end of the pause: wait for it. */
	if (loop_now(loop) < b->backoff_until)
		b->backoff_timer =
		    loop_add_timer(loop, b->backoff_until - loop_now(loop), 0, on_backoff_over, b);
	advertise(b);
	return 0;
}

void
backend_pause_ready(bridge_t *b)
{
	b->backoff_ms = backoff_next(b->backoff_ms);
	b->backoff_until = loop_now(b->loop) + (uint64_t)b->backoff_ms;
	if (b->backoff_timer == 0)
		b->backoff_timer =
		    loop_add_timer(b->loop, (uint64_t)b->backoff_ms, 0, on_backoff_over, b);
}

static void
say_goodbye(bridge_t *b)
{
	if (b->peer != NULL && !b->said_goodbye) {
		b->said_goodbye = 1;
		peer_goodbye(b->peer);
	}
	loop_stop(b->loop);
}

static void
maybe_done(bridge_t *b)
{
	if (b->stopping && b->nidle == b->ngs && b->zrunning == 0) {
		log_info("all jobs ended, exiting");
		say_goodbye(b);
	}
}

int
backend_on_slots(loop_t *loop, void *sock, int fd, short revents, void *arg)
{
	bridge_t *b = arg;
	gh_frame_t f[8];
	wire_msg_t m;
	size_t n;

	GH_UNUSED(loop);
	GH_UNUSED(fd);
	GH_UNUSED(revents);
	if (wire_recv(sock, &m, 0, ZMQ_DONTWAIT) != 0)
		return 0;
	n = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
	/* [z<n>, "bye"]: a worker thread ended (zworker.c). */
	if (n == 2 && f[0].size > 0 && ((const char *)f[0].data)[0] == 'z')
		b->zrunning--;
	else
		gslot_received(b, f, n);
	wire_msg_close(&m);
	advertise(b);
	maybe_done(b);
	return 0;
}

static const bridge_out_t *
route_out(bridge_t *b, gh_frame_t queue)
{
	size_t i;

	for (i = 0; i < b->nouts; i++)
		if (gh_frame_is(queue, b->outs[i].queue))
			return &b->outs[i];
	return NULL;
}

static void
handle_request(bridge_t *b, const proto_msg_t *m)
{
	char ref[PROTO_MAX_MSGID + 1];
	const bridge_out_t *r;
	long t;

	if (m->msgid.size > PROTO_MAX_MSGID)
		return;
	memcpy(ref, m->msgid.data, m->msgid.size);
	ref[m->msgid.size] = '\0';
	if (b->stopping) {
		send_error(b, ref, "not-run", "the bridge is shutting down", 27);
		return;
	}
	if ((r = route_out(b, m->queue)) == NULL) {
		char text[256];

		snprintf(text, sizeof(text), "queue \"%.*s\" is not bridged to gearman",
		         (int)(m->queue.size < 128 ? m->queue.size : 128), m->queue.data);
		send_error(b, ref, "bad-job", text, strlen(text));
		advertise(b);
		return;
	}
	if (b->nidle == 0) {
		/* More than we advertised (an EventMQ router may send so). */
		send_error(b, ref, "not-run", "no free slot in the bridge", 26);
		return;
	}
	t = m->hdr.timeout > 0 ? m->hdr.timeout : b->timeout;
	log_debug("REQUEST %s queue %s -> gearman %s", ref, r->queue, r->function);
	if (gslot_dispatch(b, ref, r, t * 1000, m->body) != 0)
		send_error(b, ref, "not-run", "cannot reach a slot thread", 26);
}

static void
on_message(peer_t *p, const proto_msg_t *m, const wire_msg_t *raw, const proto_err_t *perr,
           void *arg)
{
	bridge_t *b = arg;

	if (m == NULL || perr != NULL) {
		/* Too large or malformed: a REQUEST is refused by its msgid. */
		if (peer_refuse_failed(p, m, raw, perr))
			advertise(b);
		return;
	}
	if (m->cmd == PROTO_REQUEST)
		handle_request(b, m);
	else
		peer_log_ignored(m);
}

static void
on_registered(peer_t *p, void *arg)
{
	bridge_t *b = arg;

	GH_UNUSED(p);
	advertise(b);
}

/* The jobs in flight belong to the old connection, whose router has
 * already requeued or failed them: their answers are dropped. */
static void
on_lost(peer_t *p, const char *why, void *arg)
{
	bridge_t *b = arg;

	GH_UNUSED(p);
	GH_UNUSED(why);
	b->gen++;
}

int
backend_on_stop(loop_t *loop, int signo, void *arg)
{
	bridge_t *b = arg;

	if (b->stopping) {
		log_warn("signal %d again: exiting now (%zu jobs to gearman in flight)", signo,
		         b->ngs - b->nidle);
		b->forced = 1;
		say_goodbye(b);
		return 0;
	}
	b->stopping = 1;
	if (b->peer != NULL)
		peer_stop(b->peer);
	__atomic_store_n(&b->zstop, 1, __ATOMIC_RELEASE);
	log_notice("signal %d: stopping (%zu jobs to gearman in flight)", signo, b->ngs - b->nidle);
	GH_UNUSED(loop);
	maybe_done(b);
	return 0;
}

int
backend_open(bridge_t *b, gh_error_t *e)
{
	const peer_config_t pc = {.type = "worker",
	                          .queues = b->queues_json,
	                          .max_message = BRIDGE_MAX_MESSAGE,
	                          .hwm = BRIDGE_HWM,
	                          .message = on_message,
	                          .registered = on_registered,
	                          .lost = on_lost,
	                          .arg = b};

	b->peer =
	    startup_peer_new(b->loop, b->ctx, b->conf, BRIDGE_SECTION, "router_backend", &pc, e);
	return b->peer != NULL ? 0 : -1;
}
