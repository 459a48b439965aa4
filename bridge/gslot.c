/*
 * gslot.c: ZeroMQ -> gearman. Slot threads each run one gearman job at a
 * time (libgearman's client is blocking, so one thread per job in flight).
 * Both ends of the talk over the inproc socket BRIDGE_SLOTS are here: the
 * main thread sends a slot [ref, function, timeout_ms, gen, body] (an
 * empty message: quit), the slot answers [ref, gen, code, data] (an empty
 * frame when it starts: hello), and the main thread turns the answer into
 * REPLY or ERROR to the router.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bridge_int.h"
#include "log.h"
#include "proto.h"
#include "wire.h"

/* ---- the gearman client of a slot ---- */

typedef enum { GJ_NONE, GJ_DONE, GJ_FAILED, GJ_EXCEPTION } gj_status_t;

typedef struct {
	gj_status_t status;
	int created;
	char *data; /* result or exception text */
	size_t len;
} gj_t;

static void
gj_append(gj_t *j, gearman_task_st *task)
{
	size_t n = gearman_task_data_size(task);

	if (n == 0)
		return;
	j->data = gh_realloc(j->data, j->len + n + 1);
	memcpy(j->data + j->len, gearman_task_data(task), n);
	j->len += n;
	j->data[j->len] = '\0';
}

static gearman_return_t
gj_on_created(gearman_task_st *task)
{
	((gj_t *)gearman_task_context(task))->created = 1;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
gj_on_data(gearman_task_st *task)
{
	gj_append(gearman_task_context(task), task);
	return GEARMAN_SUCCESS;
}

static gearman_return_t
gj_on_complete(gearman_task_st *task)
{
	gj_t *j = gearman_task_context(task);

	gj_append(j, task);
	j->status = GJ_DONE;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
gj_on_fail(gearman_task_st *task)
{
	((gj_t *)gearman_task_context(task))->status = GJ_FAILED;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
gj_on_exception(gearman_task_st *task)
{
	gj_t *j = gearman_task_context(task);
	gearman_string_t e = gearman_task_exception(task);

	free(j->data);
	j->len = gearman_size(e);
	j->data = gh_malloc(j->len + 1);
	memcpy(j->data, gearman_c_str(e), j->len);
	j->data[j->len] = '\0';
	j->status = GJ_EXCEPTION;
	return GEARMAN_SUCCESS;
}

gearman_client_st *
gclient_new(bridge_t *b, size_t server, char *err, size_t errlen)
{
	gearman_client_st *gc = gearman_client_create(NULL);
	char host[256];
	int port;

	if (gc == NULL) {
		gh_err(err, errlen, "cannot create a gearman client");
		return NULL;
	}
	gearman_client_set_identifier(gc, b->identifier, strlen(b->identifier));
	if (conf_parse_server(b->servers[server], host, sizeof(host), &port, err, errlen) < 0 ||
	    gearman_client_add_server(gc, host, (in_port_t)port) != GEARMAN_SUCCESS) {
		if (gearman_client_error(gc) != NULL)
			gh_err(err, errlen, "%s: %s", b->servers[server], gearman_client_error(gc));
		gearman_client_free(gc);
		return NULL;
	}
	gearman_client_set_created_fn(gc, gj_on_created);
	gearman_client_set_data_fn(gc, gj_on_data);
	gearman_client_set_complete_fn(gc, gj_on_complete);
	gearman_client_set_fail_fn(gc, gj_on_fail);
	gearman_client_set_exception_fn(gc, gj_on_exception);
	gearman_client_add_options(gc, GEARMAN_CLIENT_EXCEPTION);
	return gc;
}

/* ---- the slot thread ---- */

/* Runs one gearman job on job server s, whose client is *gcp. Returns the
 * eMQP answer: "REPLY" with the result JSON in *out, or an ERROR code with
 * its text in *out. */
static const char *
gslot_run_on(bridge_t *b, size_t s, gearman_client_st **gcp, const char *fn, const char *w,
             size_t wlen, long timeout_ms, char **out, size_t *outlen)
{
	gj_t j = {GJ_NONE, 0, NULL, 0};
	gearman_return_t rc;
	gearman_task_st *task;
	const char *code;
	char err[512];

	if (*gcp == NULL && (*gcp = gclient_new(b, s, err, sizeof(err))) == NULL) {
		*out = gh_asprintf("not run: %s", err);
		*outlen = strlen(*out);
		return "not-run";
	}
	gearman_client_set_timeout(*gcp, timeout_ms > 0 ? (int)timeout_ms : -1);
	task = gearman_client_add_task(*gcp, NULL, &j, fn, NULL, w, wlen, &rc);
	if (task != NULL)
		rc = gearman_client_run_tasks(*gcp);
	if (task != NULL && rc == GEARMAN_SUCCESS && j.status != GJ_NONE) {
		if (j.status == GJ_DONE) {
			*out = bridge_result_to_json(j.data ? j.data : "", j.len, outlen);
			code = "REPLY";
		} else if (j.status == GJ_EXCEPTION) {
			*out = gh_asprintf("gearman function %s: %s", fn, j.data ? j.data : "");
			code = "job-failed";
		} else {
			*out = gh_asprintf("gearman function %s failed", fn);
			code = "job-failed";
		}
	} else {
		const char *why =
		    gearman_client_error(*gcp) ? gearman_client_error(*gcp) : gearman_strerror(rc);

		if (rc == GEARMAN_TIMEOUT && j.created) {
			*out = gh_asprintf("gearman function %s: no result within %ld ms", fn,
			                   timeout_ms);
			code = "timeout";
		} else if (!j.created) {
			/* Never reached gearmand: another job manager may run it. */
			*out = gh_asprintf("not run: gearman: %s", why);
			code = "not-run";
		} else {
			*out = gh_asprintf("gearman function %s: %s", fn, why);
			code = "job-failed";
		}
		/* The connection may hold a half-done task: start afresh. */
		gearman_client_task_free_all(*gcp);
		gearman_client_free(*gcp);
		*gcp = NULL;
	}
	if (*gcp != NULL)
		gearman_client_task_free_all(*gcp);
	if (strcmp(code, "REPLY") != 0)
		*outlen = strlen(*out);
	free(j.data);
	return code;
}

/* A slot's connection to one job server. */
typedef struct {
	gearman_client_st *gc; /* NULL until needed, or after an error */
	uint64_t retry_at;     /* gh_now_ms(): tried after the others until then */
	long backoff;          /* ms; 0 while the server takes jobs */
	int tried;             /* by the job gslot_run runs */
} gslot_server_t;

/* Runs one gearman job on the next job server in turn (sv: one per
 * server, *next: where to start); a server that did not take the job
 * ("not-run": its connection failed before gearmand queued it) gives it
 * to the next, and is tried after the others for a while (backoff per
 * server). A job a server took is never submitted again: it may have run.
 * Returns as gslot_run_on. */
static const char *
gslot_run(bridge_t *b, gslot_server_t *sv, size_t *next, const char *fn, const char *w, size_t wlen,
          long timeout_ms, char **out, size_t *outlen)
{
	const char *code = "not-run";
	uint64_t now = gh_now_ms();
	size_t k, tried = 0;
	int pass;

	*next = (*next + 1) % b->nservers;
	for (k = 0; k < b->nservers; k++)
		sv[k].tried = 0;
	for (pass = 0; pass < 2; pass++) {
		for (k = 0; k < b->nservers; k++) {
			size_t s = (*next + k) % b->nservers;

			/* First the servers that took jobs lately. */
			if ((sv[s].retry_at > now) != (pass == 1) || sv[s].tried)
				continue;
			sv[s].tried = 1;
			code = gslot_run_on(b, s, &sv[s].gc, fn, w, wlen, timeout_ms, out, outlen);
			if (strcmp(code, "not-run") != 0) {
				sv[s].backoff = 0;
				sv[s].retry_at = 0;
				return code;
			}
			sv[s].backoff = backoff_next(sv[s].backoff);
			sv[s].retry_at = now + (uint64_t)sv[s].backoff;
			if (++tried < b->nservers) {
				log_info("%s: job server %s: %s; trying the next one", fn,
				         b->servers[s], *out);
				free(*out);
				*out = NULL;
			}
		}
	}
	return code;
}

static void *
gslot_main(void *arg)
{
	gslot_t *s = arg;
	bridge_t *b = s->b;
	void *sock = zmq_socket(b->ctx, ZMQ_DEALER);
	gslot_server_t *sv = gh_calloc(b->nservers, sizeof(*sv));
	size_t next = 0, i;
	char id[BRIDGE_ID_LEN];
	int zero = 0;

	snprintf(id, sizeof(id), "g%d", s->index);
	zmq_setsockopt(sock, ZMQ_ROUTING_ID, id, strlen(id));
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_connect(sock, BRIDGE_SLOTS) != 0) {
		log_error("slot %d: %s", s->index, zmq_strerror(zmq_errno()));
		zmq_close(sock);
		free(sv);
		return NULL;
	}
	/* Hello: idle, nothing to report. */
	zmq_send(sock, "", 0, 0);
	for (;;) {
		gh_frame_t f[8], ans[4];
		wire_msg_t m;
		char ref[PROTO_MAX_MSGID + 1], fn[600], num[32], *w = NULL, *out = NULL, err[512];
		size_t n, wlen = 0, outlen = 0;
		long timeout_ms = 0;
		const char *code;

		if (wire_recv(sock, &m, 0, 0) != 0)
			break;
		n = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
		/* [ref, function, timeout_ms, gen, body]; an empty message: quit. */
		if (n != 5 || f[0].size > PROTO_MAX_MSGID || f[1].size >= sizeof(fn)) {
			wire_msg_close(&m);
			break;
		}
		memcpy(ref, f[0].data, f[0].size);
		ref[f[0].size] = '\0';
		memcpy(fn, f[1].data, f[1].size);
		fn[f[1].size] = '\0';
		if (f[2].size < sizeof(num)) {
			memcpy(num, f[2].data, f[2].size);
			num[f[2].size] = '\0';
			gh_parse_long(num, 0, LONG_MAX, &timeout_ms);
		}
		if (bridge_unwrap(f[4].data, f[4].size, &w, &wlen, err, sizeof(err)) == -1) {
			out = gh_strdup(err);
			outlen = strlen(out);
			code = "bad-job";
		} else {
			code = gslot_run(b, sv, &next, fn, w, wlen, timeout_ms, &out, &outlen);
		}
		ans[0] = f[0];
		ans[1] = f[3];
		ans[2] = gh_frame_str(code);
		ans[3] = (gh_frame_t){out, outlen};
		wire_send(sock, NULL, 0, ans, 4, 0);
		wire_msg_close(&m);
		free(w);
		free(out);
	}
	for (i = 0; i < b->nservers; i++)
		if (sv[i].gc != NULL)
			gearman_client_free(sv[i].gc);
	free(sv);
	zmq_close(sock);
	return NULL;
}

/* ---- the main thread's side ---- */

void
gslot_alloc(bridge_t *b)
{
	b->ngs = (size_t)b->nthreads;
	b->gs = gh_calloc(b->ngs, sizeof(*b->gs));
	b->idle = gh_calloc(b->ngs, sizeof(*b->idle));
}

int
gslot_start(bridge_t *b)
{
	size_t i;

	for (i = 0; i < b->ngs; i++) {
		b->gs[i].b = b;
		b->gs[i].index = (int)i;
		if (pthread_create(&b->gs[i].thread, NULL, gslot_main, &b->gs[i]) != 0)
			return -1;
		b->gs[i].started = 1;
	}
	return 0;
}

int
gslot_dispatch(bridge_t *b, const char *ref, const bridge_out_t *r, long timeout_ms,
               gh_frame_t body)
{
	char num[32], gen[32];
	const char *slot;
	gh_frame_t f[5];

	slot = b->idle[--b->nidle];
	snprintf(num, sizeof(num), "%ld", timeout_ms);
	snprintf(gen, sizeof(gen), "%lu", b->gen);
	f[0] = gh_frame_str(ref);
	f[1] = gh_frame_str(r->function);
	f[2] = gh_frame_str(num);
	f[3] = gh_frame_str(gen);
	f[4] = body;
	if (wire_send(b->slots, slot, strlen(slot), f, 5, 0) != 0) {
		b->nidle++;
		return -1;
	}
	return 0;
}

/* A slot's answer to job ref, sent on router connection gen: REPLY with
 * the result JSON, or an ERROR code with its text. */
static void
gslot_answer(bridge_t *b, const char *ref, gh_frame_t gen, gh_frame_t code, gh_frame_t data)
{
	char now[32], c[32] = "job-failed", id[GH_UUID_LEN + 1];
	proto_msg_t r;

	snprintf(now, sizeof(now), "%lu", b->gen);
	if (gh_frame_is(code, "REPLY"))
		b->backoff_ms = 0;
	if (!gh_frame_is(gen, now) || b->peer == NULL) {
		log_info("job %s ended after its router connection was replaced; its answer is "
		         "dropped",
		         ref);
		return;
	}
	if (gh_frame_is(code, "REPLY") && data.size > WIRE_FRAME_SLACK) {
		/* A router closes the connection of a larger frame, unanswered
		 * (wire_set_max_frame): refused here, as a job manager does. */
		static const char big[] = "the gearman result is larger than 16 MiB";

		log_info("job %s: result of %zu bytes too large", ref, data.size);
		peer_send_error(b->peer, ref, "too-large", big, sizeof(big) - 1);
		return;
	}
	if (gh_frame_is(code, "REPLY")) {
		gh_uuid(id);
		proto_msg_init(&r, PROTO_REPLY, id);
		r.result = data;
		r.ref = gh_frame_str(ref);
		log_debug("job %s done", ref);
		peer_send(b->peer, &r);
		return;
	}
	if (code.size > 0 && code.size < sizeof(c)) {
		memcpy(c, code.data, code.size);
		c[code.size] = '\0';
	}
	log_info("job %s: %s: %.*s", ref, c, (int)data.size, (const char *)data.data);
	if (strcmp(c, "not-run") == 0 && !b->stopping)
		backend_pause_ready(b);
	else
		b->backoff_ms = 0;
	peer_send_error(b->peer, ref, c, data.data, data.size);
}

void
gslot_received(bridge_t *b, const gh_frame_t *f, size_t n)
{
	char ref[PROTO_MAX_MSGID + 1];

	if (n < 2 || f[0].size >= BRIDGE_ID_LEN || b->nidle >= b->ngs)
		return;
	memcpy(b->idle[b->nidle], f[0].data, f[0].size);
	b->idle[b->nidle][f[0].size] = '\0';
	b->nidle++;
	/* [id, ref, gen, code, data]; a hello has no ref. */
	if (n == 5 && f[1].size > 0 && f[1].size <= PROTO_MAX_MSGID) {
		memcpy(ref, f[1].data, f[1].size);
		ref[f[1].size] = '\0';
		gslot_answer(b, ref, f[2], f[3], f[4]);
	}
}

void
gslot_stop(bridge_t *b)
{
	gh_frame_t quit = {"", 0};
	char id[BRIDGE_ID_LEN];
	size_t i;

	for (i = 0; i < b->ngs; i++)
		if (b->gs[i].started) {
			/* An empty message: quit (after the job in hand). */
			snprintf(id, sizeof(id), "g%d", b->gs[i].index);
			wire_send(b->slots, id, strlen(id), &quit, 1, 0);
		}
	for (i = 0; i < b->ngs; i++)
		if (b->gs[i].started)
			pthread_join(b->gs[i].thread, NULL);
	free(b->gs);
	free(b->idle);
	b->gs = NULL;
	b->idle = NULL;
	b->ngs = 0;
}
