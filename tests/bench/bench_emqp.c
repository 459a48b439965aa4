/*
 * bench_emqp: round trips through a ZeroMQ broker, for make bench.
 *
 *   bench_emqp bare [-n COUNT] [-i INFLIGHT] [-s SIZE]
 *       The baseline: a bare broker (client DEALER -> ROUTER/ROUTER broker ->
 *       worker DEALER, echoing) over loopback TCP, in three processes with a
 *       ZeroMQ context each, as the stack it is compared with runs. It is the
 *       usual broker loop (the ZeroMQ guide's load-balancing broker): each
 *       zmq_poll is followed by one message from each socket it found ready.
 *       This is the broker of the anchor figure gearhorn's targets were set
 *       against (239k round trips a second with 1000 in flight).
 *   bench_emqp bare-drain [-n COUNT] [-i INFLIGHT] [-s SIZE]
 *       The same broker draining each ready socket before it polls again, as
 *       gearhorn-router does: about twice the anchor, a stricter baseline.
 *   bench_emqp bare-threads [-n COUNT] [-i INFLIGHT] [-s SIZE]
 *       The draining broker in three threads of this process sharing one
 *       context.
 *   bench_emqp bare-emqp [-n COUNT] [-i INFLIGHT] [-s SIZE]
 *       Three processes again, exchanging eMQP's messages as gearhorn's router
 *       and job manager do (ACK, REQUEST, REPLY, READY, REPLY) with no logic
 *       behind them: what the protocol's shape alone costs.
 *   bench_emqp router FRONTEND [-q QUEUE] [-n COUNT] [-i INFLIGHT] [-s SIZE] [-g] [-a]
 *       eMQP REQUESTs with reply-requested to the builtin echo handler through
 *       gearhorn-router and a job manager; a request ends at its result REPLY.
 *       -g adds the guarantee header (journaled when the journal is on);
 *       -a sends no reply-requested and ends each request at the router's
 *       acknowledgement (to fill a queue nobody serves).
 *
 * Prints one line: mode, inflight, count, seconds, rate (round trips per
 * second), p50 and p99 latency in microseconds.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "proto.h"
#include "util.h"
#include "wire.h"

typedef struct {
	long count, inflight;
	size_t size;
	const char *queue;
	int guarantee, ack_only;
} opts_t;

static void
die(const char *what)
{
	fprintf(stderr, "bench_emqp: %s: %s\n", what, zmq_strerror(zmq_errno()));
	exit(1);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *mode, const opts_t *o, uint64_t elapsed_us, uint64_t *lat, long n)
{
	qsort(lat, (size_t)n, sizeof(*lat), cmp_u64);
	printf("mode=%s inflight=%ld count=%ld seconds=%.3f rate=%.0f p50_us=%llu p99_us=%llu\n",
	       mode, o->inflight, n, (double)elapsed_us / 1e6, (double)n * 1e6 / (double)elapsed_us,
	       (unsigned long long)lat[n / 2], (unsigned long long)lat[(n * 99) / 100]);
}

/* ---- the bare broker ---------------------------------------------------- */

typedef struct {
	void *ctx;
	int drain; /* read each ready socket until it is empty */
	char front[256], back[256];
} bare_t;

static void *
broker_socket(void *ctx, char *endpoint, size_t size)
{
	void *s = zmq_socket(ctx, ZMQ_ROUTER);
	int hwm = 0, linger = 0;

	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(s, "tcp://127.0.0.1:*") != 0)
		die("bind");
	zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &size);
	return s;
}

/* Binds the broker's two ROUTER sockets (their endpoints into b), fills the
 * poll items and waits for the worker's hello, which tells the broker its
 * identity (written to worker[256]). Returns the identity's length. */
static size_t
broker_start(bare_t *b, void **front, void **back, zmq_pollitem_t items[2], char *worker)
{
	wire_msg_t m;
	size_t len;

	*front = broker_socket(b->ctx, b->front, sizeof(b->front));
	*back = broker_socket(b->ctx, b->back, sizeof(b->back));
	items[0] = (zmq_pollitem_t){*front, 0, ZMQ_POLLIN, 0};
	items[1] = (zmq_pollitem_t){*back, 0, ZMQ_POLLIN, 0};
	if (wire_recv(*back, &m, 0, 0) != 0)
		die("worker hello");
	len = zmq_msg_size(&m.part[0]);
	if (len > 256)
		die("worker identity");
	memcpy(worker, zmq_msg_data(&m.part[0]), len);
	wire_msg_close(&m);
	return len;
}

static void *
bare_broker(void *arg)
{
	bare_t *b = arg;
	void *front, *back;
	zmq_pollitem_t items[2];
	char worker[256];
	size_t worker_len = broker_start(b, &front, &back, items, worker);
	for (;;) {
		wire_msg_t m;

		if (zmq_poll(items, 2, -1) < 0) {
			if (zmq_errno() == ETERM)
				break;
			continue;
		}
		while (items[0].revents & ZMQ_POLLIN) {
			/* [client, '', payload] -> [worker, client, '', payload] */
			if (wire_recv(front, &m, 0, ZMQ_DONTWAIT) != 0)
				break;
			if (wire_forward(back, worker, worker_len, NULL, 0, &m, 0, 0) != 0)
				die("forward to worker");
			wire_msg_close(&m);
			if (!b->drain)
				break;
		}
		while (items[1].revents & ZMQ_POLLIN) {
			/* [worker, client, '', payload] -> [client, '', payload] */
			if (wire_recv(back, &m, 0, ZMQ_DONTWAIT) != 0)
				break;
			if (wire_forward(front, NULL, 0, NULL, 0, &m, 1, 0) != 0)
				die("forward to client");
			wire_msg_close(&m);
			if (!b->drain)
				break;
		}
	}
	zmq_close(front);
	zmq_close(back);
	return NULL;
}

static void *
bare_worker(void *arg)
{
	bare_t *b = arg;
	void *s = zmq_socket(b->ctx, ZMQ_DEALER);
	int hwm = 0, linger = 0;

	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(s, b->back) != 0)
		die("worker connect");
	zmq_send(s, "", 0, 0);
	for (;;) {
		wire_msg_t m;

		if (wire_recv(s, &m, 0, 0) != 0)
			break;
		if (wire_forward(s, NULL, 0, NULL, 0, &m, 0, 0) != 0)
			break;
		wire_msg_close(&m);
	}
	zmq_close(s);
	return NULL;
}

/* ---- the bare eMQP broker ---------------------------------------------------
 * The protocol's messages and nothing else: the floor that eMQP's shape puts
 * under any router. One client and one worker; no queues, no table of jobs,
 * no worker processes. Per request, as gearhorn's router: an ACK to the
 * client, the REQUEST to the worker; the worker's REPLY then READY; the
 * REPLY to the client. */

#define EMQP_ID_LEN 36

static void
next_id(char id[EMQP_ID_LEN + 1], unsigned long *n)
{
	snprintf(id, EMQP_ID_LEN + 1, "00000000-0000-4000-8000-%012lu", (*n)++ % 1000000000000UL);
}

static void *
bare_emqp_broker(void *arg)
{
	bare_t *b = arg;
	void *front, *back;
	zmq_pollitem_t items[2];
	char worker[256], client[256], id[EMQP_ID_LEN + 1];
	size_t worker_len = broker_start(b, &front, &back, items, worker), client_len = 0;
	unsigned long n = 0;

	for (;;) {
		wire_msg_t m;
		gh_frame_t f[WIRE_MAX_FRAMES];
		size_t nf;

		if (zmq_poll(items, 2, -1) < 0) {
			if (zmq_errno() == ETERM)
				break;
			continue;
		}
		while (items[0].revents & ZMQ_POLLIN) {
			/* [client, "", ver, REQUEST, msgid, queue, headers, body] */
			if (wire_recv(front, &m, 0, ZMQ_DONTWAIT) != 0)
				break;
			nf = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
			if (nf == 8) {
				gh_frame_t ack[5] = {
				    f[1], f[2], {"REPLY", 5}, {id, EMQP_ID_LEN}, f[4]};

				client_len =
				    f[0].size < sizeof(client) ? f[0].size : sizeof(client);
				memcpy(client, f[0].data, client_len);
				next_id(id, &n);
				if (wire_send(front, client, client_len, ack, 5, 0) != 0)
					die("ack");
				if (wire_send(back, worker, worker_len, f + 1, 7, 0) != 0)
					die("forward to worker");
			}
			wire_msg_close(&m);
		}
		while (items[1].revents & ZMQ_POLLIN) {
			/* [worker, "", ver, REPLY, msgid, result, ref] or READY */
			if (wire_recv(back, &m, 0, ZMQ_DONTWAIT) != 0)
				break;
			nf = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
			if (nf == 7 && gh_frame_is(f[3], "REPLY")) {
				next_id(id, &n);
				f[4] = (gh_frame_t){id, EMQP_ID_LEN};
				if (wire_send(front, client, client_len, f + 1, 6, 0) != 0)
					die("reply to client");
			}
			wire_msg_close(&m);
		}
	}
	zmq_close(front);
	zmq_close(back);
	return NULL;
}

static void *
bare_emqp_worker(void *arg)
{
	bare_t *b = arg;
	void *s = zmq_socket(b->ctx, ZMQ_DEALER);
	int hwm = 0, linger = 0;
	char id[EMQP_ID_LEN + 1];
	unsigned long n = 1UL << 40;

	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(s, b->back) != 0)
		die("worker connect");
	zmq_send(s, "", 0, 0);
	for (;;) {
		wire_msg_t m;
		gh_frame_t f[WIRE_MAX_FRAMES];

		/* ["", ver, REQUEST, msgid, queue, headers, body] */
		if (wire_recv(s, &m, 0, 0) != 0)
			break;
		if (wire_frames(&m, 0, f, GH_ARRAY_LEN(f)) == 7) {
			gh_frame_t reply[6] = {f[0], f[1], {"REPLY", 5}, {id, EMQP_ID_LEN},
			                       f[6], f[3]};
			gh_frame_t ready[4] = {f[0], f[1], {"READY", 5}, {id, EMQP_ID_LEN}};

			next_id(id, &n);
			if (wire_send(s, NULL, 0, reply, 6, 0) != 0)
				break;
			next_id(id, &n);
			if (wire_send(s, NULL, 0, ready, 4, 0) != 0)
				break;
		}
		wire_msg_close(&m);
	}
	zmq_close(s);
	return NULL;
}

/* ---- the client ------------------------------------------------------------ */

/* Each request carries its index; the reply gives it back. */
typedef struct {
	void *sock;
	int emqp;
	const opts_t *o;
	char *payload;
	char *body;
	size_t body_len;
	const char *headers;
} client_t;

static void
client_send(client_t *c, long idx)
{
	char id[32];
	gh_frame_t f[8];
	size_t n = 0;

	snprintf(id, sizeof(id), "%ld", idx);
	if (c->emqp) {
		f[n++] = (gh_frame_t){"", 0};
		f[n++] = (gh_frame_t){PROTO_VERSION, strlen(PROTO_VERSION)};
		f[n++] = (gh_frame_t){"REQUEST", 7};
		f[n++] = (gh_frame_t){id, strlen(id)};
		f[n++] = (gh_frame_t){c->o->queue, strlen(c->o->queue)};
		f[n++] = (gh_frame_t){c->headers, strlen(c->headers)};
		f[n++] = (gh_frame_t){c->body, c->body_len};
	} else {
		f[n++] = (gh_frame_t){"", 0};
		f[n++] = (gh_frame_t){id, strlen(id)};
		f[n++] = (gh_frame_t){c->payload, c->o->size};
	}
	if (wire_send(c->sock, NULL, 0, f, n, 0) != 0)
		die("send");
}

/* Returns the index of the request a result belongs to, or -1 for other
 * messages (the router's dispatch acknowledgements, heartbeats). */
static long
client_recv(client_t *c)
{
	gh_frame_t f[WIRE_MAX_FRAMES];
	wire_msg_t m;
	size_t n;
	long idx = -1;
	char id[32];

	if (wire_recv(c->sock, &m, 0, 0) != 0)
		die("recv");
	n = wire_frames(&m, 0, f, GH_ARRAY_LEN(f));
	if (c->emqp) {
		proto_msg_t msg;
		proto_err_t err;

		if (proto_decode(f, n, &msg, &err) != 0) {
			fprintf(stderr, "bench_emqp: bad message: %s\n", err.text);
			exit(1);
		}
		if (msg.cmd == PROTO_ERROR) {
			fprintf(stderr, "bench_emqp: router error %.*s: %.*s\n", (int)msg.code.size,
			        msg.code.data, (int)msg.text.size, msg.text.data);
			exit(1);
		}
		if (msg.cmd == PROTO_REPLY && (msg.result.data != NULL) != c->o->ack_only &&
		    msg.ref.size < sizeof(id)) {
			memcpy(id, msg.ref.data, msg.ref.size);
			id[msg.ref.size] = '\0';
			idx = strtol(id, NULL, 10);
		}
	} else if (n == 3 && f[1].size < sizeof(id)) {
		memcpy(id, f[1].data, f[1].size);
		id[f[1].size] = '\0';
		idx = strtol(id, NULL, 10);
	}
	wire_msg_close(&m);
	return idx;
}

static void
run_client(client_t *c, const char *mode)
{
	const opts_t *o = c->o;
	uint64_t *sent = gh_calloc((size_t)o->count, sizeof(*sent));
	uint64_t *lat = gh_calloc((size_t)o->count, sizeof(*lat));
	long next = 0, done = 0, warm = o->count / 10;
	uint64_t t0 = 0;

	while (done < o->count) {
		long idx;

		while (next < o->count && next - done < o->inflight) {
			sent[next] = gh_now_us();
			client_send(c, next++);
		}
		idx = client_recv(c);
		if (idx < 0 || idx >= o->count || sent[idx] == 0)
			continue;
		lat[done++] = gh_now_us() - sent[idx];
		sent[idx] = 0;
		if (done == warm)
			t0 = gh_now_us();
	}
	/* The first tenth warms the connections up and is not counted. */
	report(mode, o, gh_now_us() - t0, lat + warm, o->count - warm);
	free(sent);
	free(lat);
}

/* Makes c send eMQP REQUESTs for the builtin echo handler. */
static void
emqp_client(client_t *c, const opts_t *o)
{
	c->emqp = 1;
	c->headers = o->ack_only ? (o->guarantee ? "guarantee" : "")
	                         : (o->guarantee ? "reply-requested,guarantee" : "reply-requested");
	c->body =
	    gh_asprintf("[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"args\": "
	                "[\"%.*s\"], \"kwargs\": {}, \"class_args\": [], \"class_kwargs\": {}}]",
	                (int)o->size, c->payload);
	c->body_len = strlen(c->body);
}

static void *
client_socket(void *ctx, const char *endpoint)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	int hwm = 0, linger = 0;

	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(s, endpoint) != 0)
		die(endpoint);
	return s;
}

int
main(int argc, char **argv)
{
	opts_t o = {20000, 1, 100, "bench", 0, 0};
	const char *mode, *endpoint = NULL;
	client_t c;
	void *ctx;
	int ch, procs = 0, emqp_shape = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_emqp bare|bare-drain|bare-threads|bare-emqp|router "
		                "[FRONTEND] [-n COUNT] [-i INFLIGHT] "
		                "[-s SIZE] [-q QUEUE]\n");
		return 64;
	}
	mode = argv[1];
	if (strcmp(mode, "router") == 0) {
		if (argc < 3)
			return 64;
		endpoint = argv[2];
		optind = 3;
	} else if (strcmp(mode, "bare") == 0 || strcmp(mode, "bare-drain") == 0 ||
	           strcmp(mode, "bare-threads") == 0 || strcmp(mode, "bare-emqp") == 0) {
		procs = strcmp(mode, "bare-threads") != 0;
		emqp_shape = strcmp(mode, "bare-emqp") == 0;
		optind = 2;
	} else {
		return 64;
	}
	while ((ch = getopt(argc, argv, "n:i:s:q:ga")) != -1) {
		switch (ch) {
		case 'g':
			o.guarantee = 1;
			break;
		case 'a':
			o.ack_only = 1;
			break;
		case 'n':
			o.count = strtol(optarg, NULL, 10);
			break;
		case 'i':
			o.inflight = strtol(optarg, NULL, 10);
			break;
		case 's':
			o.size = (size_t)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			o.queue = optarg;
			break;
		default:
			return 64;
		}
	}
	if (o.count < 10 || o.inflight < 1 || o.size < 1 || o.size > 1000000)
		return 64;

	ctx = zmq_ctx_new();
	memset(&c, 0, sizeof(c));
	c.o = &o;
	c.payload = gh_malloc(o.size);
	memset(c.payload, 'x', o.size);
	if (endpoint == NULL && procs) {
		void *(*broker_fn)(void *) = emqp_shape ? bare_emqp_broker : bare_broker;
		void *(*worker_fn)(void *) = emqp_shape ? bare_emqp_worker : bare_worker;
		/* Three processes, each with its own context, as in the stack:
		 * the broker and the worker are forked children. */
		bare_t b;
		pid_t broker, worker;
		int fds[2];

		memset(&b, 0, sizeof(b));
		b.drain = strcmp(mode, "bare") != 0;
		zmq_ctx_term(ctx);
		if (pipe(fds) != 0)
			die("pipe");
		if ((broker = fork()) == 0) {
			pthread_t tb;

			close(fds[0]);
			b.ctx = zmq_ctx_new();
			pthread_create(&tb, NULL, broker_fn, &b);
			while (b.back[0] == '\0' || b.front[0] == '\0')
				usleep(1000);
			if (write(fds[1], &b, sizeof(b)) != (ssize_t)sizeof(b))
				_exit(1);
			pthread_join(tb, NULL);
			_exit(0);
		}
		close(fds[1]);
		if (read(fds[0], &b, sizeof(b)) != (ssize_t)sizeof(b))
			die("broker endpoints");
		close(fds[0]);
		if ((worker = fork()) == 0) {
			b.ctx = zmq_ctx_new();
			worker_fn(&b);
			_exit(0);
		}
		ctx = zmq_ctx_new();
		c.sock = client_socket(ctx, b.front);
		if (emqp_shape)
			emqp_client(&c, &o);
		run_client(&c, mode);
		fflush(stdout);
		kill(worker, SIGKILL);
		kill(broker, SIGKILL);
		waitpid(worker, NULL, 0);
		waitpid(broker, NULL, 0);
		free(c.payload);
		_exit(0);
	}
	if (endpoint == NULL) {
		bare_t b;
		pthread_t tb, tw;

		memset(&b, 0, sizeof(b));
		b.ctx = ctx;
		b.drain = 1;
		pthread_create(&tb, NULL, bare_broker, &b);
		while (b.back[0] == '\0' || b.front[0] == '\0')
			usleep(1000);
		pthread_create(&tw, NULL, bare_worker, &b);
		c.sock = client_socket(ctx, b.front);
		run_client(&c, "bare-threads");
		zmq_close(c.sock);
		/* The broker and worker threads block in zmq calls; exit ends them. */
		free(c.payload);
		fflush(stdout);
		_exit(0);
	}
	emqp_client(&c, &o);
	c.sock = client_socket(ctx, endpoint);
	run_client(&c, o.ack_only ? "router-ack" : "router");
	printf("body_bytes=%zu\n", c.body_len);
	zmq_close(c.sock);
	zmq_ctx_term(ctx);
	free(c.body);
	free(c.payload);
	return 0;
}
