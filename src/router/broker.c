/*
 * broker.c: the router's semantics (see broker.h and gearhorn-router(8)).
 *
 * Every job lives in b->jobs, keyed by the client's msgid, and sits on
 * exactly one list: its queue's waiting FIFO or its worker's in-flight
 * list. A worker whose send fails with EHOSTUNREACH is only marked dead
 * where it is found; broker_reap() removes dead workers at the end of each
 * entry point, so no handler frees a worker that a caller still holds.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "broker_int.h"
#include "cron.h"
#include "log.h"

#define SWEEP_MS          1000
#define DEFAULT_RETRIES   3
#define HWM_WARN_EVERY    10000
#define ID_TEXT           128
#define BROKER_MAX_QUEUES 4096 /* before idle queues are forgotten */

static void broker_reap(broker_t *b);
static void worker_remove(broker_t *b, bworker_t *w, const char *why);

static const char *
idtext(const void *id, size_t len, char *buf)
{
	return log_escape(id, len, buf, ID_TEXT);
}

/* ---- lists ---- */

static void
list_push(bjob_list_t *l, bjob_t *j, int head)
{
	j->prev = j->next = NULL;
	if (head) {
		j->next = l->head;
		if (l->head)
			l->head->prev = j;
		else
			l->tail = j;
		l->head = j;
	} else {
		j->prev = l->tail;
		if (l->tail)
			l->tail->next = j;
		else
			l->head = j;
		l->tail = j;
	}
	l->n++;
}

static void
list_unlink(bjob_list_t *l, bjob_t *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		l->head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else
		l->tail = j->prev;
	j->prev = j->next = NULL;
	l->n--;
}

/* ---- frees (dict callbacks) ---- */

static void
job_free(void *p)
{
	bjob_t *j = p;
	if (!j)
		return;
	free(j->client);
	free(j->msgid);
	free(j->headers);
	free(j->body);
	free(j);
}

static void
queue_free(void *p)
{
	bqueue_t *q = p;
	if (!q)
		return;
	free(q->name);
	free(q->workers);
	free(q->lat);
	free(q);
}

static void
worker_free(void *p)
{
	bworker_t *w = p;
	if (!w)
		return;
	free(w->id);
	free(w->queues);
	free(w);
}

static void
sched_free(void *p)
{
	bsched_t *s = p;
	if (!s)
		return;
	free(s->id);
	free(s);
}

/* ---- sending ---- */

/* Encodes m into f (4 + PROTO_MAX_ARGS frames) and returns the count.
 * Everything the broker sends is built from messages the codec has checked
 * and from its own constants (ERROR texts aside: see send_error), so a
 * message that does not encode is a bug here, not a peer's. */
static size_t
encode(const proto_msg_t *m, gh_frame_t *f)
{
	proto_err_t err;
	int n = proto_encode(m, f, 4 + PROTO_MAX_ARGS, &err);

	if (n < 0)
		log_error("cannot encode %s: %s", proto_cmd_name(m->cmd), err.text);
	assert(n > 0);
	return n > 0 ? (size_t)n : 0;
}

/* Encodes m and sends it to peer id on ep. Returns b->send's result. */
static int
send_msg(broker_t *b, int ep, const void *id, size_t idlen, const proto_msg_t *m)
{
	gh_frame_t f[4 + PROTO_MAX_ARGS];
	size_t n = encode(m, f);

	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	return b->send(b->ctx, ep, id, idlen, f, n);
}

/* Starts a message of the router's own: cmd under a fresh msgid, written
 * into mid (GH_UUID_LEN + 1 bytes), which m borrows. */
static void
own_msg(proto_msg_t *m, proto_cmd_t cmd, char *mid)
{
	gh_uuid(mid);
	proto_msg_init(m, cmd, mid);
}

/* ACK, or REPLY with one argument, for the message whose msgid is ref. */
static int
send_ref(broker_t *b, int ep, const void *id, size_t idlen, proto_cmd_t cmd, gh_frame_t ref)
{
	char mid[GH_UUID_LEN + 1];
	proto_msg_t m;

	own_msg(&m, cmd, mid);
	m.ref = ref;
	return send_msg(b, ep, id, idlen, &m);
}

/* HEARTBEAT (timestamp: the wall clock in seconds) or KBYE. */
static int
send_beat(broker_t *b, int ep, const void *id, size_t idlen, proto_cmd_t cmd)
{
	char mid[GH_UUID_LEN + 1], ts[32];
	int64_t wall = b->wall_ms > 0 ? b->wall_ms : 0;
	proto_msg_t m;

	own_msg(&m, cmd, mid);
	if (cmd == PROTO_HEARTBEAT) {
		snprintf(ts, sizeof(ts), "%" PRId64 ".%03d", wall / 1000, (int)(wall % 1000));
		m.timestamp = gh_frame_str(ts);
	}
	return send_msg(b, ep, id, idlen, &m);
}

/* Accounts for a failed send to a client or admin peer (never fatal). */
static void
send_failed(broker_t *b, const void *id, size_t idlen, const char *what)
{
	char buf[ID_TEXT];
	if (errno == EAGAIN) {
		b->hwm_full++;
		if (b->last_hwm_warn_ms == 0 || b->now_ms - b->last_hwm_warn_ms >= HWM_WARN_EVERY) {
			b->last_hwm_warn_ms = b->now_ms ? b->now_ms : 1;
			log_warn(
			    "peer %s is not reading (high-water mark): %s dropped (%llu so far)",
			    idtext(id, idlen, buf), what, (unsigned long long)b->hwm_full);
		}
	} else {
		b->undeliverable++;
		log_debug("peer %s is gone: %s undeliverable", idtext(id, idlen, buf), what);
	}
}

static void
send_error(broker_t *b, int ep, const void *id, size_t idlen, const char *ref, size_t reflen,
           const char *code, const char *text)
{
	char mid[GH_UUID_LEN + 1], esc[512];
	gh_frame_t f[4 + PROTO_MAX_ARGS];
	proto_msg_t m;
	size_t n;
	int n0;

	own_msg(&m, PROTO_ERROR, mid);
	if (ref)
		m.ref = (gh_frame_t){ref, reflen};
	m.code = gh_frame_str(code);
	m.text = gh_frame_str(text);
	if ((n0 = proto_encode(&m, f, GH_ARRAY_LEN(f), NULL)) > 0) {
		n = (size_t)n0;
	} else {
		/* A text that quotes bytes from outside need not be UTF-8 (a
		 * JSON parser's message cut at its length limit, say): it goes
		 * out escaped. */
		m.text = gh_frame_str(log_escape(text, strlen(text), esc, sizeof(esc)));
		n = encode(&m, f);
	}
	if (n == 0 || b->send(b->ctx, ep, id, idlen, f, n) != 0)
		send_failed(b, id, idlen, "ERROR");
}

static void
job_error(broker_t *b, bjob_t *j, const char *code, const char *text)
{
	send_error(b, BROKER_FRONTEND, j->client, j->clen, j->msgid, strlen(j->msgid), code, text);
}

/* ---- queues ---- */

static bqueue_t *
queue_get(broker_t *b, const char *name, size_t len, int create)
{
	bqueue_t *q = dict_get(b->queues, name, len);
	if (q || !create)
		return q;
	q = gh_calloc(1, sizeof(*q));
	q->name = gh_strndup(name, len);
	dict_set(b->queues, name, len, q);
	return q;
}

static void
queue_add_worker(bqueue_t *q, bworker_t *w, long weight)
{
	if (q->nworkers == q->capworkers) {
		q->capworkers = q->capworkers ? q->capworkers * 2 : 4;
		q->workers = gh_realloc(q->workers, q->capworkers * sizeof(*q->workers));
	}
	q->workers[q->nworkers].w = w;
	q->workers[q->nworkers].weight = weight;
	q->nworkers++;
}

static void
queue_remove_worker(bqueue_t *q, bworker_t *w)
{
	for (size_t i = 0; i < q->nworkers; i++) {
		if (q->workers[i].w == w) {
			memmove(&q->workers[i], &q->workers[i + 1],
			        (q->nworkers - i - 1) * sizeof(*q->workers));
			q->nworkers--;
			return;
		}
	}
}

/* Highest weight first, least recently used among equals. */
static bworker_t *
queue_pick(bqueue_t *q)
{
	bworker_t *best = NULL;
	long bw = -1;

	for (size_t i = 0; i < q->nworkers; i++) {
		bworker_t *w = q->workers[i].w;
		if (w->dead || w->slots <= 0)
			continue;
		if (!best || q->workers[i].weight > bw ||
		    (q->workers[i].weight == bw && w->last_used < best->last_used)) {
			best = w;
			bw = q->workers[i].weight;
		}
	}
	return best;
}

static void
queue_latency(bqueue_t *q, uint64_t ms)
{
	if (!q->lat)
		q->lat = gh_calloc(BROKER_LAT_RING, sizeof(*q->lat));
	q->lat[q->latpos] = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	q->latpos = (q->latpos + 1) % BROKER_LAT_RING;
	if (q->nlat < BROKER_LAT_RING)
		q->nlat++;
}

/* ---- jobs ---- */

static void
job_enqueue(broker_t *b, bjob_t *j, int head)
{
	j->state = JOB_WAITING;
	j->worker = NULL;
	list_push(&j->queue->waiting, j, head);
	b->nwaiting++;
}

static void
job_dequeue(broker_t *b, bjob_t *j)
{
	list_unlink(&j->queue->waiting, j);
	b->nwaiting--;
	j->state = 0;
}

/* Counts j's bytes against its queue and the router, from its acceptance
 * until job_drop. */
static void
job_charge(broker_t *b, bjob_t *j, size_t bytes)
{
	j->bytes = bytes;
	j->queue->bytes += bytes;
	b->nbytes += bytes;
}

/* Whether a job of bytes more would pass a byte limit of q or of the
 * router: writes the refusal into text and returns 1, or returns 0. */
static int
bytes_full(const broker_t *b, const bqueue_t *q, size_t bytes, char *text, size_t len)
{
	size_t total = b->conf.max_bytes_total, per_queue = b->conf.max_bytes;

	if (per_queue && (bytes > per_queue || q->bytes > per_queue - bytes))
		snprintf(text, len,
		         "REQUEST: queue is full (max_bytes %zu: %zu held, this job %zu)",
		         per_queue, q->bytes, bytes);
	else if (total && (bytes > total || b->nbytes > total - bytes))
		snprintf(text, len,
		         "REQUEST: queue is full (max_bytes_total %zu: %zu held in all queues, "
		         "this job %zu)",
		         total, b->nbytes, bytes);
	else
		return 0;
	return 1;
}

/* Removes j from the table and frees it; it must be on no list. */
static void
job_drop(broker_t *b, bjob_t *j)
{
	j->queue->bytes -= j->bytes;
	b->nbytes -= j->bytes;
	if (j->journaled && b->jdel)
		b->jdel(b->jctx, j->msgid);
	dict_del(b->jobs, j->msgid, strlen(j->msgid));
}

/* Sends j to w. Returns 0, or -1 (j untouched; w marked dead on
 * EHOSTUNREACH). */
static int
job_dispatch(broker_t *b, bjob_t *j, bworker_t *w)
{
	char buf[ID_TEXT];
	proto_msg_t m;

	proto_msg_init(&m, PROTO_REQUEST, j->msgid);
	m.queue = gh_frame_str(j->queue->name);
	m.headers = (gh_frame_t){j->headers, j->hlen};
	m.body = (gh_frame_t){j->body, j->blen};
	if (send_msg(b, BROKER_BACKEND, w->id, w->idlen, &m) != 0) {
		if (errno == EAGAIN) {
			send_failed(b, w->id, w->idlen, "REQUEST");
		} else if (!w->dead) {
			log_info("job manager %s is gone", idtext(w->id, w->idlen, buf));
			w->dead = 1;
			b->ndead++;
		}
		return -1;
	}
	w->slots--;
	w->last_used = ++b->dispatch_seq;
	j->state = JOB_INFLIGHT;
	j->worker = w;
	j->dispatched_ms = b->now_ms;
	list_push(&w->inflight, j, 0);
	j->queue->inflight++;
	return 0;
}

static void
queue_dispatch(broker_t *b, bqueue_t *q)
{
	bworker_t *w;
	while (q->waiting.head && (w = queue_pick(q)) != NULL) {
		bjob_t *j = q->waiting.head;
		job_dequeue(b, j);
		if (job_dispatch(b, j, w) != 0) {
			job_enqueue(b, j, 1);
			break;
		}
	}
}

static void
dispatch_all(broker_t *b)
{
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;
	dict_iter_init(b->queues, &it);
	while (dict_iter_next(&it, &k, &kl, &v))
		queue_dispatch(b, v);
}

/* Serves w's free slots from its queues, highest weight first. */
static void
worker_serve(broker_t *b, bworker_t *w)
{
	while (w->slots > 0 && !w->dead) {
		bjob_t *j = NULL;
		for (size_t i = 0; i < w->nqueues && !j; i++) {
			bqueue_t *q = queue_get(b, w->queues[i].name, strlen(w->queues[i].name), 0);
			if (q && q->waiting.head)
				j = q->waiting.head;
		}
		if (!j)
			return;
		job_dequeue(b, j);
		if (job_dispatch(b, j, w) != 0) {
			job_enqueue(b, j, 1);
			return;
		}
	}
}

/* Takes j, in flight, off its job manager. */
static void
job_unassign(bjob_t *j)
{
	list_unlink(&j->worker->inflight, j);
	j->queue->inflight--;
	j->worker = NULL;
}

/* j is in flight and will not finish there: requeue it at the head of its
 * queue if it may be tried again (requeue_ok and attempts left), else tell
 * the client code/text and drop it. Does not dispatch. */
static void
job_lost(broker_t *b, bjob_t *j, int requeue_ok, const char *code, const char *text)
{
	job_unassign(j);
	if (requeue_ok && j->guarantee && j->retries_left > 0) {
		j->retries_left--;
		log_info("job %s requeued on %s (%s; %ld retries left)", j->msgid, j->queue->name,
		         text, j->retries_left);
		job_enqueue(b, j, 1);
		return;
	}
	j->queue->failed++;
	log_info("job %s on %s failed: %s", j->msgid, j->queue->name, text);
	job_error(b, j, code, text);
	job_drop(b, j);
}

/* ---- workers and schedulers ---- */

/* Removes w from every table, requeues or fails its in-flight jobs and
 * frees it. */
static void
worker_remove(broker_t *b, bworker_t *w, const char *why)
{
	char buf[ID_TEXT];

	log_info("job manager %s removed: %s", idtext(w->id, w->idlen, buf), why);
	if (w->dead)
		b->ndead--;
	w->dead = 1;
	for (size_t i = 0; i < w->nqueues; i++) {
		bqueue_t *q = queue_get(b, w->queues[i].name, strlen(w->queues[i].name), 0);
		if (q)
			queue_remove_worker(q, w);
	}
	while (w->inflight.head)
		job_lost(b, w->inflight.head, 1, "job-failed", "job manager lost");
	/* w is out of the queues, so this only reaches other workers. */
	for (size_t i = 0; i < w->nqueues; i++) {
		bqueue_t *q = queue_get(b, w->queues[i].name, strlen(w->queues[i].name), 0);
		if (q)
			queue_dispatch(b, q);
	}
	dict_del(b->workers, w->id, w->idlen);
}

static void
broker_reap(broker_t *b)
{
	while (b->ndead > 0) {
		dict_iter_t it;
		const void *k;
		size_t kl;
		void *v;
		bworker_t *dead = NULL;
		dict_iter_init(b->workers, &it);
		while (dict_iter_next(&it, &k, &kl, &v)) {
			if (((bworker_t *)v)->dead) {
				dead = v;
				break;
			}
		}
		if (!dead) {
			b->ndead = 0;
			break;
		}
		worker_remove(b, dead, "unreachable");
	}
}

static int
exclusive_taken(broker_t *b, const char *name)
{
	bqueue_t *q;
	if (!strchr(name, '!'))
		return 0;
	q = queue_get(b, name, strlen(name), 0);
	if (!q)
		return 0;
	for (size_t i = 0; i < q->nworkers; i++)
		if (!q->workers[i].w->dead)
			return 1;
	return 0;
}

static void
on_inform_worker(broker_t *b, const void *id, size_t idlen, const proto_msg_t *m)
{
	proto_queue_t qs[PROTO_MAX_INFORM_QUEUES];
	size_t n = 0, k = 0;
	proto_err_t err;
	bworker_t *w;
	char buf[ID_TEXT];

	if (proto_parse_queues(m->queues, qs, GH_ARRAY_LEN(qs), &n, &err) != 0) {
		send_error(b, BROKER_BACKEND, id, idlen, m->msgid.data, m->msgid.size,
		           proto_error_name(err.code), err.text);
		return;
	}
	if (n == 0) {
		qs[0].weight = 10;
		gh_strlcpy(qs[0].name, b->default_queue, sizeof(qs[0].name));
		n = 1;
	}
	/* Dedupe (first wins), then sort by weight, stable. */
	for (size_t i = 0; i < n; i++) {
		size_t d;
		for (d = 0; d < k; d++)
			if (strcmp(qs[d].name, qs[i].name) == 0)
				break;
		if (d == k)
			qs[k++] = qs[i];
	}
	n = k;
	for (size_t i = 1; i < n; i++) {
		proto_queue_t t = qs[i];
		size_t j = i;
		while (j > 0 && qs[j - 1].weight < t.weight) {
			qs[j] = qs[j - 1];
			j--;
		}
		qs[j] = t;
	}

	w = dict_get(b->workers, id, idlen);
	if (w)
		worker_remove(b, w, "informed again");
	for (size_t i = 0; i < n; i++) {
		if (exclusive_taken(b, qs[i].name)) {
			char text[PROTO_MAX_QUEUE * 4 + 64], qb[PROTO_MAX_QUEUE * 4 + 8];
			snprintf(text, sizeof(text),
			         "INFORM: queue \"%s\" is exclusive and already served",
			         log_escape(qs[i].name, strlen(qs[i].name), qb, sizeof(qb)));
			log_notice("job manager %s denied: %s", idtext(id, idlen, buf), text);
			send_error(b, BROKER_BACKEND, id, idlen, m->msgid.data, m->msgid.size,
			           "denied", text);
			return;
		}
	}
	w = gh_calloc(1, sizeof(*w));
	w->id = gh_malloc(idlen ? idlen : 1);
	memcpy(w->id, id, idlen);
	w->idlen = idlen;
	w->queues = gh_malloc(n * sizeof(*w->queues));
	memcpy(w->queues, qs, n * sizeof(*qs));
	w->nqueues = n;
	w->last_seen = b->now_ms;
	dict_set(b->workers, id, idlen, w);
	for (size_t i = 0; i < n; i++)
		queue_add_worker(queue_get(b, qs[i].name, strlen(qs[i].name), 1), w, qs[i].weight);
	log_info("job manager %s connected with %zu queue(s), first %s", idtext(id, idlen, buf), n,
	         qs[0].name);

	if (send_ref(b, BROKER_BACKEND, id, idlen, PROTO_ACK, m->msgid) != 0) {
		w->dead = 1;
		b->ndead++;
		return;
	}
	send_beat(b, BROKER_BACKEND, id, idlen, PROTO_HEARTBEAT);
}

static void
on_inform_scheduler(broker_t *b, const void *id, size_t idlen, const proto_msg_t *m)
{
	bsched_t *s = gh_calloc(1, sizeof(*s));
	char buf[ID_TEXT];

	s->id = gh_malloc(idlen ? idlen : 1);
	memcpy(s->id, id, idlen);
	s->idlen = idlen;
	s->last_seen = b->now_ms;
	s->answers = m->queues.size > 0;
	dict_set(b->schedulers, id, idlen, s);
	log_info("scheduler %s connected%s", idtext(id, idlen, buf),
	         s->answers ? "" : " (answers nothing: acknowledged when forwarded)");
	if (send_ref(b, BROKER_FRONTEND, id, idlen, PROTO_ACK, m->msgid) != 0) {
		dict_del(b->schedulers, id, idlen);
		return;
	}
	send_beat(b, BROKER_FRONTEND, id, idlen, PROTO_HEARTBEAT);
}

/* ---- requests ---- */

/* Dispatches j (new, on no list) or queues it, then acknowledges it to its
 * client. A stopping broker queues it only: its job managers were told to go. */
static void
job_accept(broker_t *b, bjob_t *j)
{
	bworker_t *w = b->stopping ? NULL : queue_pick(j->queue);

	if (!w || job_dispatch(b, j, w) != 0)
		job_enqueue(b, j, w != NULL);
	if (send_ref(b, BROKER_FRONTEND, j->client, j->clen, PROTO_REPLY, gh_frame_str(j->msgid)) !=
	    0)
		send_failed(b, j->client, j->clen, "REPLY");
}

static void
on_request(broker_t *b, const void *id, size_t idlen, const proto_msg_t *m)
{
	bqueue_t *q;
	bworker_t *w;
	bjob_t *j;
	char text[256];
	size_t bytes;
	long max_waiting = b->conf.max_waiting > 0 ? b->conf.max_waiting : 10 * b->conf.max_length;

	if (dict_get(b->jobs, m->msgid.data, m->msgid.size)) {
		send_error(b, BROKER_FRONTEND, id, idlen, m->msgid.data, m->msgid.size,
		           "duplicate-msgid",
		           "REQUEST: a job with this msgid is already waiting or running");
		return;
	}
	q = queue_get(b, m->queue.data, m->queue.size, 1);
	w = queue_pick(q);
	bytes = BROKER_JOB_BYTES(idlen, m->msgid.size, m->headers.size, m->body.size);
	if (!w && (long)(q->waiting.n + q->npending) >= b->conf.max_length)
		snprintf(text, sizeof(text), "REQUEST: queue is full (max_length %ld: %zu waiting)",
		         b->conf.max_length, q->waiting.n + q->npending);
	else if (!w && (long)(b->nwaiting + b->pending.n) >= max_waiting)
		snprintf(text, sizeof(text),
		         "REQUEST: queue is full (max_waiting %ld: %zu waiting in all queues)",
		         max_waiting, b->nwaiting + b->pending.n);
	else if (!bytes_full(b, q, bytes, text, sizeof(text)))
		text[0] = '\0';
	if (text[0] != '\0') {
		q->rejected++;
		send_error(b, BROKER_FRONTEND, id, idlen, m->msgid.data, m->msgid.size,
		           "queue-full", text);
		return;
	}

	j = gh_calloc(1, sizeof(*j));
	j->client = gh_malloc(idlen ? idlen : 1);
	memcpy(j->client, id, idlen);
	j->clen = idlen;
	j->msgid = gh_strndup(m->msgid.data, m->msgid.size);
	j->queue = q;
	job_charge(b, j, bytes);
	j->hdr = m->hdr;
	j->reply_requested = (m->hdr.flags & PROTO_H_REPLY_REQUESTED) != 0;
	j->guarantee = (m->hdr.flags & PROTO_H_GUARANTEE) != 0;
	j->retries_left =
	    j->guarantee ? (m->hdr.retry_count >= 0 ? m->hdr.retry_count : DEFAULT_RETRIES) : 0;
	if (j->reply_requested) {
		j->headers = gh_strndup(m->headers.data, m->headers.size);
		j->hlen = m->headers.size;
	} else if (m->headers.size + sizeof(",reply-requested") <= PROTO_MAX_HEADERS) {
		j->headers = gh_asprintf("%.*s%sreply-requested", (int)m->headers.size,
		                         m->headers.data, m->headers.size ? "," : "");
		j->hlen = strlen(j->headers);
	} else {
		/* Too long to extend: the known headers, formatted afresh. */
		proto_headers_t h = m->hdr;
		char hb[PROTO_HEADERS_FORMAT_SIZE];
		h.flags |= PROTO_H_REPLY_REQUESTED;
		j->hlen = proto_headers_format(&h, hb, sizeof(hb));
		j->headers = gh_strdup(hb);
	}
	j->body = gh_malloc(m->body.size ? m->body.size : 1);
	memcpy(j->body, m->body.data, m->body.size);
	j->blen = m->body.size;
	j->accepted_ms = b->now_ms;
	dict_set(b->jobs, j->msgid, m->msgid.size, j);
	if (j->guarantee && b->jadd) {
		journal_job_t jj = {.msgid = j->msgid,
		                    .client = j->client,
		                    .clen = j->clen,
		                    .queue = q->name,
		                    .headers = j->headers,
		                    .hlen = j->hlen,
		                    .reply_requested = j->reply_requested,
		                    .body = j->body,
		                    .blen = j->blen,
		                    .retries_left = j->retries_left,
		                    .accepted_ms = b->wall_ms};
		b->jadd(b->jctx, &jj);
		j->journaled = 1;
		/* Acknowledged once the journal's transaction has committed
		 * (broker_journal_committed), as publisher confirms are. */
		j->state = JOB_PENDING;
		list_push(&b->pending, j, 0);
		q->npending++;
		return;
	}
	job_accept(b, j);
}

/* Looks up the in-flight job ref that w may answer for; NULL if none. */
static bjob_t *
worker_job(broker_t *b, bworker_t *w, gh_frame_t ref, const char *what)
{
	bjob_t *j = dict_get(b->jobs, ref.data, ref.size);
	char buf[ID_TEXT], rb[ID_TEXT];
	if (!j || j->state != JOB_INFLIGHT || j->worker != w) {
		log_info("%s from %s for unknown job %s ignored", what,
		         idtext(w->id, w->idlen, buf), idtext(ref.data, ref.size, rb));
		return NULL;
	}
	return j;
}

static void
job_done(broker_t *b, bjob_t *j)
{
	list_unlink(&j->worker->inflight, j);
	j->queue->inflight--;
	j->worker->processed++;
	j->queue->processed++;
	queue_latency(j->queue, b->now_ms - j->accepted_ms);
	job_drop(b, j);
}

static void
on_worker_reply(broker_t *b, bworker_t *w, const proto_msg_t *m)
{
	bjob_t *j = worker_job(b, w, m->ref, "REPLY");
	if (!j)
		return;
	if (j->reply_requested) {
		char mid[GH_UUID_LEN + 1];
		proto_msg_t r;

		own_msg(&r, PROTO_REPLY, mid);
		r.result = m->result.data ? m->result : gh_frame_str("null");
		r.ref = gh_frame_str(j->msgid);
		if (send_msg(b, BROKER_FRONTEND, j->client, j->clen, &r) != 0)
			send_failed(b, j->client, j->clen, "result");
	}
	job_done(b, j);
}

static void
on_worker_error(broker_t *b, bworker_t *w, const proto_msg_t *m)
{
	bjob_t *j = worker_job(b, w, m->ref, "ERROR");
	char code[PROTO_MAX_ERROR_CODE + 1], *text;
	int retry;
	bqueue_t *q;

	if (!j)
		return;
	gh_strlcpy(code, "", sizeof(code));
	memcpy(code, m->code.data,
	       m->code.size < PROTO_MAX_ERROR_CODE ? m->code.size : PROTO_MAX_ERROR_CODE);
	code[m->code.size < PROTO_MAX_ERROR_CODE ? m->code.size : PROTO_MAX_ERROR_CODE] = '\0';
	text = gh_strndup(m->text.data, m->text.size);
	q = j->queue;
	if (strcmp(code, "not-run") == 0) {
		/* Handed back unstarted (a job manager stopping): any job may be
		 * run elsewhere, and this was no attempt. */
		job_unassign(j);
		log_info("job %s handed back on %s (%s)", j->msgid, q->name, text);
		job_enqueue(b, j, 1);
	} else {
		retry = strcmp(code, "crashed") == 0 || strcmp(code, "timeout") == 0;
		job_lost(b, j, retry, code, text);
	}
	free(text);
	queue_dispatch(b, q);
}

/* A SCHEDULE or UNSCHEDULE sent on to schedulers, until they answer: its
 * client is acknowledged (REPLY) once every one of them has stored it, and
 * refused with the first ERROR, or with no-scheduler when they do not
 * answer within the heartbeat timeout. Owned by b->sched_waits, keyed by
 * the client's msgid. */
typedef struct {
	char *client;
	size_t clen;
	proto_cmd_t cmd;
	size_t awaiting; /* answers still to come */
	uint64_t sent_ms;
} bsched_wait_t;

static void
sched_wait_free(void *p)
{
	bsched_wait_t *w = p;

	free(w->client);
	free(w);
}

/* Holds the client's acknowledgement of m until n schedulers answer. */
static void
sched_wait(broker_t *b, const void *id, size_t idlen, const proto_msg_t *m, size_t n)
{
	bsched_wait_t *w = gh_calloc(1, sizeof(*w));

	w->client = gh_malloc(idlen ? idlen : 1);
	memcpy(w->client, id, idlen);
	w->clen = idlen;
	w->cmd = m->cmd;
	w->awaiting = n;
	w->sent_ms = b->now_ms;
	dict_set(b->sched_waits, m->msgid.data, m->msgid.size, w);
}

/* A scheduler's REPLY [ref] (stored) or ERROR [ref, code, text] (not) for
 * the SCHEDULE or UNSCHEDULE whose msgid is ref, passed on to its client. */
static void
on_scheduler_answer(broker_t *b, const bsched_t *s, const proto_msg_t *m)
{
	bsched_wait_t *w = dict_get(b->sched_waits, m->ref.data, m->ref.size);
	char buf[ID_TEXT], rb[ID_TEXT];

	if (w == NULL) {
		log_info("%s from scheduler %s for unknown %s ignored", proto_cmd_name(m->cmd),
		         idtext(s->id, s->idlen, buf), idtext(m->ref.data, m->ref.size, rb));
		return;
	}
	if (m->cmd == PROTO_ERROR) {
		char *code = gh_strndup(m->code.data, m->code.size);
		char *text = gh_strndup(m->text.data, m->text.size);

		log_info("%s %s refused by scheduler %s: %s", proto_cmd_name(w->cmd),
		         idtext(m->ref.data, m->ref.size, rb), idtext(s->id, s->idlen, buf), code);
		send_error(b, BROKER_FRONTEND, w->client, w->clen, m->ref.data, m->ref.size, code,
		           text);
		free(code);
		free(text);
	} else if (--w->awaiting > 0) {
		return;
	} else if (send_ref(b, BROKER_FRONTEND, w->client, w->clen, PROTO_REPLY, m->ref) != 0) {
		send_failed(b, w->client, w->clen, "REPLY");
	}
	dict_del(b->sched_waits, m->ref.data, m->ref.size);
}

/* Refuses the SCHEDULEs and UNSCHEDULEs whose schedulers have not answered
 * within the heartbeat timeout. */
static void
sched_waits_expire(broker_t *b)
{
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;

	dict_iter_init(b->sched_waits, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bsched_wait_t *w = v;
		char text[160];

		if (b->now_ms - w->sent_ms <= b->conf.hb_timeout_ms)
			continue;
		snprintf(text, sizeof(text),
		         "%s: no answer from the scheduler in %llu ms; it may have been stored, "
		         "and may be sent again",
		         proto_cmd_name(w->cmd), (unsigned long long)b->conf.hb_timeout_ms);
		send_error(b, BROKER_FRONTEND, w->client, w->clen, k, kl, "no-scheduler", text);
		dict_iter_del(&it);
	}
}

static void
on_schedule(broker_t *b, const void *id, size_t idlen, const proto_msg_t *m)
{
	size_t ns = dict_size(b->schedulers), n, answering = 0;
	gh_frame_t frames[4 + PROTO_MAX_ARGS];
	int sent = 0;

	if (m->cmd == PROTO_SCHEDULE) {
		char err[256];

		/* Refused here, where the client hears of it: a scheduler could
		 * only log it. */
		if (cron_schedule_check(m->queue, m->headers, m->interval_secs, m->cron, m->body,
		                        (time_t)(b->wall_ms / 1000), NULL, err, sizeof(err)) != 0) {
			log_info("SCHEDULE %.*s refused: %s", (int)m->msgid.size, m->msgid.data,
			         err);
			send_error(b, BROKER_FRONTEND, id, idlen, m->msgid.data, m->msgid.size,
			           "bad-schedule", err);
			return;
		}
	}
	if (dict_get(b->sched_waits, m->msgid.data, m->msgid.size)) {
		char text[128];

		snprintf(text, sizeof(text), "%s: one with this msgid awaits its scheduler",
		         proto_cmd_name(m->cmd));
		send_error(b, BROKER_FRONTEND, id, idlen, m->msgid.data, m->msgid.size,
		           "duplicate-msgid", text);
		return;
	}
	/* Forwarded as the client sent it, msgid and version included. */
	n = encode(m, frames);
	if (m->cmd == PROTO_SCHEDULE) {
		for (size_t tries = 0; tries < ns && !sent; tries++) {
			size_t cnt = dict_size(b->schedulers), idx, i = 0;
			dict_iter_t it;
			const void *k;
			size_t kl;
			void *v;
			bsched_t *s = NULL;
			if (cnt == 0)
				break;
			idx = b->sched_rr++ % cnt;
			dict_iter_init(b->schedulers, &it);
			while (dict_iter_next(&it, &k, &kl, &v))
				if (i++ == idx) {
					s = v;
					break;
				}
			if (b->send(b->ctx, BROKER_FRONTEND, s->id, s->idlen, frames, n) == 0) {
				sent = 1;
				answering += s->answers != 0;
			} else if (errno == EHOSTUNREACH)
				dict_del(b->schedulers, s->id, s->idlen);
			else
				send_failed(b, s->id, s->idlen, "SCHEDULE");
		}
		if (!sent) {
			send_error(b, BROKER_FRONTEND, id, idlen, m->msgid.data, m->msgid.size,
			           "no-scheduler", "SCHEDULE: no scheduler is connected");
			return;
		}
	} else {
		dict_iter_t it;
		const void *k;
		size_t kl;
		void *v;
		dict_iter_init(b->schedulers, &it);
		while (dict_iter_next(&it, &k, &kl, &v)) {
			bsched_t *s = v;
			if (b->send(b->ctx, BROKER_FRONTEND, s->id, s->idlen, frames, n) == 0) {
				sent++;
				answering += s->answers != 0;
			} else {
				send_failed(b, s->id, s->idlen, "UNSCHEDULE");
			}
		}
		if (!sent) {
			send_error(b, BROKER_FRONTEND, id, idlen, m->msgid.data, m->msgid.size,
			           "no-scheduler", "UNSCHEDULE: no scheduler is connected");
			return;
		}
	}
	/* The client is acknowledged when the schedulers that answer have
	 * stored it; with none of those (EventMQ's schedulers), once it is
	 * forwarded, as EventMQ's router does. */
	if (answering > 0)
		sched_wait(b, id, idlen, m, answering);
	else if (send_ref(b, BROKER_FRONTEND, id, idlen, PROTO_REPLY, m->msgid) != 0)
		send_failed(b, id, idlen, "REPLY");
}

/* ---- admin ---- */

static void
fail_waiting(broker_t *b, const char *code, const char *text)
{
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;
	dict_iter_init(b->queues, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bqueue_t *q = v;
		bjob_t *j, *next;
		for (j = q->waiting.head; j; j = next) {
			next = j->next;
			if (j->journaled && b->jdel)
				continue; /* kept for the next start */
			job_dequeue(b, j);
			job_error(b, j, code, text);
			job_drop(b, j);
		}
	}
}

static void
on_disconnect(broker_t *b, const void *id, size_t idlen, const proto_msg_t *m)
{
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;

	log_notice("DISCONNECT from the admin endpoint: shutting down");
	if (send_ref(b, BROKER_ADMIN, id, idlen, PROTO_ACK, m->msgid) != 0)
		send_failed(b, id, idlen, "ACK");
	dict_iter_init(b->workers, &it);
	while (dict_iter_next(&it, &k, &kl, &v))
		send_beat(b, BROKER_BACKEND, k, kl, PROTO_KBYE);
	dict_iter_init(b->schedulers, &it);
	while (dict_iter_next(&it, &k, &kl, &v))
		send_beat(b, BROKER_FRONTEND, k, kl, PROTO_KBYE);
	fail_waiting(b, "shutdown", "the router is shutting down");
	b->stopping = 1;
}

static void
admin_reply(broker_t *b, const void *id, size_t idlen, char *json)
{
	if (send_ref(b, BROKER_ADMIN, id, idlen, PROTO_REPLY, gh_frame_str(json)) != 0)
		send_failed(b, id, idlen, "admin REPLY");
	free(json);
}

/* ---- entry points ---- */

static void
denied(broker_t *b, int ep, const void *id, size_t idlen, const proto_msg_t *m)
{
	static const char *const epname[] = {"frontend", "backend", "admin endpoint"};
	char text[128];
	snprintf(text, sizeof(text), "%s: not accepted on the %s", proto_cmd_name(m->cmd),
	         epname[ep]);
	send_error(b, ep, id, idlen, m->msgid.data, m->msgid.size, "denied", text);
}

static void
handle_frontend(broker_t *b, const void *id, size_t idlen, const proto_msg_t *m)
{
	bsched_t *s = dict_get(b->schedulers, id, idlen);
	if (s)
		s->last_seen = b->now_ms;
	switch (m->cmd) {
	case PROTO_REQUEST:
		on_request(b, id, idlen, m);
		break;
	case PROTO_SCHEDULE:
	case PROTO_UNSCHEDULE:
		on_schedule(b, id, idlen, m);
		break;
	case PROTO_INFORM:
		if (gh_frame_is(m->peer_type, "scheduler"))
			on_inform_scheduler(b, id, idlen, m);
		else
			send_error(b, BROKER_FRONTEND, id, idlen, m->msgid.data, m->msgid.size,
			           "denied", "INFORM: job managers connect to the backend");
		break;
	case PROTO_KBYE:
		if (s) {
			char buf[ID_TEXT];
			log_info("scheduler %s said goodbye", idtext(id, idlen, buf));
			dict_del(b->schedulers, id, idlen);
		}
		break;
	case PROTO_HEARTBEAT:
		/* Only schedulers send heartbeats: one we dropped informs again. */
		if (!s)
			send_error(b, BROKER_FRONTEND, id, idlen, m->msgid.data, m->msgid.size,
			           "unknown-peer", "send INFORM first");
		break;
	case PROTO_REPLY:
	case PROTO_ERROR:
		if (s)
			on_scheduler_answer(b, s, m);
		else if (m->cmd == PROTO_REPLY)
			denied(b, BROKER_FRONTEND, id, idlen, m);
		break;
	case PROTO_HELLO:
		break;
	default:
		denied(b, BROKER_FRONTEND, id, idlen, m);
	}
}

static void
handle_backend(broker_t *b, const void *id, size_t idlen, const proto_msg_t *m)
{
	bworker_t *w = dict_get(b->workers, id, idlen);
	char buf[ID_TEXT];

	if (m->cmd == PROTO_INFORM) {
		if (gh_frame_is(m->peer_type, "worker"))
			on_inform_worker(b, id, idlen, m);
		else
			send_error(b, BROKER_BACKEND, id, idlen, m->msgid.data, m->msgid.size,
			           "denied", "INFORM: schedulers connect to the frontend");
		return;
	}
	if (!w) {
		if (m->cmd == PROTO_KBYE || m->cmd == PROTO_ERROR || m->cmd == PROTO_HELLO)
			return;
		log_info("%s from unknown job manager %s", proto_cmd_name(m->cmd),
		         idtext(id, idlen, buf));
		send_error(b, BROKER_BACKEND, id, idlen, m->msgid.data, m->msgid.size,
		           "unknown-peer", "send INFORM first");
		return;
	}
	w->last_seen = b->now_ms;
	switch (m->cmd) {
	case PROTO_READY:
		w->slots++;
		worker_serve(b, w);
		break;
	case PROTO_REPLY:
		on_worker_reply(b, w, m);
		break;
	case PROTO_ERROR:
		on_worker_error(b, w, m);
		break;
	case PROTO_KBYE:
		worker_remove(b, w, "said goodbye");
		break;
	case PROTO_HEARTBEAT:
	case PROTO_HELLO:
		break;
	default:
		denied(b, BROKER_BACKEND, id, idlen, m);
	}
}

static void
handle_admin(broker_t *b, const void *id, size_t idlen, const proto_msg_t *m)
{
	switch (m->cmd) {
	case PROTO_STATUS:
		admin_reply(b, id, idlen, broker_status_json(b, b->now_ms));
		break;
	case PROTO_ROUTER_SHOW_WORKERS:
		admin_reply(b, id, idlen, broker_workers_json(b, b->now_ms));
		break;
	case PROTO_ROUTER_SHOW_SCHEDULERS:
		admin_reply(b, id, idlen, broker_schedulers_json(b, b->now_ms));
		break;
	case PROTO_DISCONNECT:
		on_disconnect(b, id, idlen, m);
		break;
	case PROTO_HELLO:
	case PROTO_HEARTBEAT:
	case PROTO_ERROR:
		break;
	default:
		denied(b, BROKER_ADMIN, id, idlen, m);
	}
}

/* A job manager's REPLY too large to take: its job fails, and the client is
 * told, rather than waiting for a result that will never come. The job's
 * msgid is the REPLY's last frame (wire_recv keeps it past the limit). */
static void
oversized_result(broker_t *b, const void *id, size_t idlen, const gh_frame_t *frames, size_t n)
{
	bworker_t *w = dict_get(b->workers, id, idlen);
	bjob_t *j;
	bqueue_t *q;

	if (!w || n != 6 || !gh_frame_is(frames[2], "REPLY") ||
	    !proto_valid_msgid(frames[5].data, frames[5].size))
		return;
	w->last_seen = b->now_ms;
	if ((j = worker_job(b, w, frames[5], "REPLY")) == NULL)
		return;
	q = j->queue;
	job_lost(b, j, 0, "too-large",
	         "the job's result is larger than the router's max_message_size");
	queue_dispatch(b, q);
}

void
broker_handle(broker_t *b, int ep, const void *id, size_t idlen, const gh_frame_t *frames, size_t n,
              int oversized, uint64_t now_ms, int64_t wall_ms)
{
	proto_msg_t m;
	proto_err_t err;
	char buf[ID_TEXT];
	static const char *const epname[] = {"frontend", "backend", "admin"};

	if (ep < 0 || ep >= BROKER_ENDPOINTS || b->stopping)
		return;
	b->now_ms = now_ms;
	b->wall_ms = wall_ms;
	if (oversized) {
		int is_error = n > 2 && gh_frame_is(frames[2], "ERROR");
		const gh_frame_t *ref =
		    n > 3 && proto_valid_msgid(frames[3].data, frames[3].size) ? &frames[3] : NULL;
		log_info("%s: message from %s too large", epname[ep], idtext(id, idlen, buf));
		if (!is_error)
			send_error(b, ep, id, idlen, ref ? ref->data : NULL, ref ? ref->size : 0,
			           "too-large",
			           "message larger than the router's max_message_size");
		if (ep == BROKER_BACKEND)
			oversized_result(b, id, idlen, frames, n);
		broker_reap(b);
		return;
	}
	if (proto_decode(frames, n, &m, &err) != 0) {
		log_info("%s: bad message from %s: %s", epname[ep], idtext(id, idlen, buf),
		         err.text);
		if (m.cmd != PROTO_ERROR)
			send_error(b, ep, id, idlen, m.msgid.data, m.msgid.data ? m.msgid.size : 0,
			           proto_error_name(err.code), err.text);
		if (ep == BROKER_BACKEND) {
			bworker_t *w = dict_get(b->workers, id, idlen);
			if (w)
				w->last_seen = now_ms;
		}
		return;
	}
	if (ep == BROKER_FRONTEND)
		handle_frontend(b, id, idlen, &m);
	else if (ep == BROKER_BACKEND)
		handle_backend(b, id, idlen, &m);
	else
		handle_admin(b, id, idlen, &m);
	broker_reap(b);
}

/* ---- periodic work ---- */

static void
send_heartbeats(broker_t *b)
{
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;

	dict_iter_init(b->workers, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bworker_t *w = v;
		if (!w->dead && send_beat(b, BROKER_BACKEND, k, kl, PROTO_HEARTBEAT) != 0 &&
		    errno == EHOSTUNREACH) {
			w->dead = 1;
			b->ndead++;
		}
	}
	dict_iter_init(b->schedulers, &it);
	while (dict_iter_next(&it, &k, &kl, &v))
		if (send_beat(b, BROKER_FRONTEND, k, kl, PROTO_HEARTBEAT) != 0 &&
		    errno == EHOSTUNREACH)
			dict_iter_del(&it);
}

static void
check_peers(broker_t *b)
{
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;
	char buf[ID_TEXT];

	dict_iter_init(b->workers, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bworker_t *w = v;
		if (!w->dead && b->now_ms - w->last_seen > b->conf.hb_timeout_ms) {
			log_info("job manager %s missed its heartbeats", idtext(k, kl, buf));
			w->dead = 1;
			b->ndead++;
		}
	}
	dict_iter_init(b->schedulers, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bsched_t *s = v;
		if (b->now_ms - s->last_seen > b->conf.hb_timeout_ms) {
			log_info("scheduler %s missed its heartbeats", idtext(k, kl, buf));
			dict_iter_del(&it);
		}
	}
	sched_waits_expire(b);
}

static void
sweep(broker_t *b)
{
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;

	/* Waiting jobs past their ttl. */
	dict_iter_init(b->queues, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bqueue_t *q = v;
		bjob_t *j = q->waiting.head, *next;
		for (; j; j = next) {
			next = j->next;
			if (j->hdr.ttl >= 0 &&
			    b->now_ms - j->accepted_ms >= (uint64_t)j->hdr.ttl * 1000) {
				job_dequeue(b, j);
				q->expired++;
				log_info("job %s on %s expired", j->msgid, q->name);
				job_error(b, j, "expired",
				          "the request waited longer than its ttl");
				job_drop(b, j);
			}
		}
	}
	/* In-flight jobs past timeout + heartbeat_timeout. */
	dict_iter_init(b->workers, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bworker_t *w = v;
		bjob_t *j = w->inflight.head, *next;
		for (; j; j = next) {
			next = j->next;
			if (j->hdr.timeout > 0 &&
			    b->now_ms - j->dispatched_ms >
			        (uint64_t)j->hdr.timeout * 1000 + b->conf.hb_timeout_ms)
				job_lost(b, j, 1, "timeout", "the job ran longer than its timeout");
		}
	}
	dispatch_all(b);
	/* Queues are created by any request; forget idle ones (and their
	 * counters) once there are many, so that names cannot pile up. */
	if (dict_size(b->queues) > BROKER_MAX_QUEUES) {
		dict_iter_init(b->queues, &it);
		while (dict_iter_next(&it, &k, &kl, &v)) {
			bqueue_t *q = v;
			if (!q->waiting.n && !q->inflight && !q->npending && !q->nworkers)
				dict_iter_del(&it);
		}
	}
}

void
broker_tick(broker_t *b, uint64_t now_ms, int64_t wall_ms)
{
	if (b->stopping)
		return;
	b->now_ms = now_ms;
	b->wall_ms = wall_ms;
	if (now_ms >= b->next_hb_ms) {
		send_heartbeats(b);
		b->next_hb_ms = now_ms + b->conf.hb_interval_ms;
	}
	check_peers(b);
	broker_reap(b);
	if (now_ms >= b->next_sweep_ms) {
		sweep(b);
		b->next_sweep_ms = now_ms + SWEEP_MS;
	}
	broker_reap(b);
}

/* ---- life cycle ---- */

void
broker_configure(broker_t *b, const broker_conf_t *conf)
{
	b->conf = *conf;
	free(b->default_queue);
	b->default_queue = gh_strdup(
	    conf->default_queue && *conf->default_queue ? conf->default_queue : "default");
	b->conf.default_queue = b->default_queue;
	if (b->conf.max_length < 1)
		b->conf.max_length = 1;
	if (b->conf.max_bytes == 0)
		b->conf.max_bytes = b->conf.max_bytes_total / 10;
	if (b->conf.hb_interval_ms == 0)
		b->conf.hb_interval_ms = 3000;
	if (b->conf.hb_timeout_ms == 0)
		b->conf.hb_timeout_ms = 5000;
	if (b->next_hb_ms > b->now_ms + b->conf.hb_interval_ms)
		b->next_hb_ms = b->now_ms + b->conf.hb_interval_ms;
}

broker_t *
broker_new(const broker_conf_t *conf, broker_send_fn *send, void *ctx, uint64_t now_ms)
{
	broker_t *b = gh_calloc(1, sizeof(*b));
	b->send = send;
	b->ctx = ctx;
	b->workers = dict_new(worker_free);
	b->schedulers = dict_new(sched_free);
	b->queues = dict_new(queue_free);
	b->jobs = dict_new(job_free);
	b->sched_waits = dict_new(sched_wait_free);
	b->started_ms = b->now_ms = now_ms;
	b->next_hb_ms = now_ms;
	b->next_sweep_ms = now_ms + SWEEP_MS;
	broker_configure(b, conf);
	b->next_hb_ms = now_ms + b->conf.hb_interval_ms;
	return b;
}

void
broker_destroy(broker_t **self_p)
{
	broker_t *b;
	if (!self_p || !*self_p)
		return;
	b = *self_p;
	dict_destroy(&b->jobs);
	dict_destroy(&b->sched_waits);
	dict_destroy(&b->workers);
	dict_destroy(&b->schedulers);
	dict_destroy(&b->queues);
	free(b->default_queue);
	free(b);
	*self_p = NULL;
}

int
broker_stopping(const broker_t *b)
{
	return b->stopping;
}

void
broker_shutdown(broker_t *b)
{
	fail_waiting(b, "shutdown", "the router is shutting down");
}

void
broker_set_journal(broker_t *b, broker_journal_add_fn *add, broker_journal_del_fn *del, void *ctx)
{
	b->jadd = add;
	b->jdel = del;
	b->jctx = ctx;
}

/* The journal failed to store j: its client is told, and nothing of it
 * stays (the transaction was rolled back, so there is no row to delete). */
static void
job_not_stored(broker_t *b, bjob_t *j)
{
	char text[512];

	snprintf(text, sizeof(text), "REQUEST: the journal could not store the job (%s)",
	         b->jerror);
	j->journaled = 0;
	j->queue->rejected++;
	b->not_stored++;
	log_info("job %s on %s refused: not stored", j->msgid, j->queue->name);
	job_error(b, j, "not-stored", text);
	job_drop(b, j);
}

void
broker_journal_committed(broker_t *b, int ok, const char *error)
{
	bjob_t *j;

	if (!ok) {
		gh_strlcpy(b->jerror, error && *error ? error : "write failed", sizeof(b->jerror));
		if (!b->jfailing)
			log_error("journal: %s: guarantee jobs are refused (not-stored) until it "
			          "can be written; jobs without guarantee are served",
			          b->jerror);
		b->jfailing = 1;
	} else if (b->jfailing) {
		log_notice("journal: written again; %llu guarantee job(s) were refused",
		           (unsigned long long)b->not_stored);
		b->jfailing = 0;
	}
	while ((j = b->pending.head) != NULL) {
		list_unlink(&b->pending, j);
		j->queue->npending--;
		j->state = 0;
		if (ok)
			job_accept(b, j);
		else
			job_not_stored(b, j);
	}
	broker_reap(b);
}

int
broker_restorable(const journal_job_t *job)
{
	return job->msgid && proto_valid_msgid(job->msgid, strlen(job->msgid)) && job->queue &&
	       proto_valid_name(job->queue, strlen(job->queue)) && job->headers &&
	       proto_headers_parse(job->headers, job->hlen, &(proto_headers_t){0}, NULL) == 0;
}

int
broker_restore(broker_t *b, const journal_job_t *job, uint64_t now_ms, int64_t wall_ms)
{
	size_t mlen = job->msgid ? strlen(job->msgid) : 0;
	size_t qlen = job->queue ? strlen(job->queue) : 0;
	int64_t age = wall_ms - job->accepted_ms;
	bjob_t *j;

	b->now_ms = now_ms;
	b->wall_ms = wall_ms;
	if (!broker_restorable(job) || dict_get(b->jobs, job->msgid, mlen))
		return -1;
	j = gh_calloc(1, sizeof(*j));
	j->client = gh_malloc(job->clen ? job->clen : 1);
	if (job->clen)
		memcpy(j->client, job->client, job->clen);
	j->clen = job->clen;
	j->msgid = gh_strdup(job->msgid);
	j->queue = queue_get(b, job->queue, qlen, 1);
	/* Counted even past the limits: it was acknowledged. */
	job_charge(b, j, BROKER_JOB_BYTES(job->clen, mlen, job->hlen, job->blen));
	j->headers = gh_strndup(job->headers, job->hlen);
	j->hlen = job->hlen;
	proto_headers_parse(j->headers, j->hlen, &j->hdr, NULL);
	j->reply_requested = job->reply_requested != 0;
	j->guarantee = 1;
	j->retries_left = job->retries_left;
	j->body = gh_malloc(job->blen ? job->blen : 1);
	if (job->blen)
		memcpy(j->body, job->body, job->blen);
	j->blen = job->blen;
	if (age < 0)
		age = 0;
	j->accepted_ms = (uint64_t)age < now_ms ? now_ms - (uint64_t)age : 0;
	j->journaled = 1;
	dict_set(b->jobs, j->msgid, mlen, j);
	job_enqueue(b, j, 0);
	return 0;
}
