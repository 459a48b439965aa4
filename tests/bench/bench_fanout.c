/*
 * bench_fanout: fanouts through gearmand, for make bench.
 *
 *   bench_fanout bare -s HOST:PORT [-n EVENTS] [-k SUBSCRIBERS] [-p SIZE]
 *       The baseline, in this process: for each event, parse the JSON a
 *       client sends to `fanout` ({"topic","payload","background":true})
 *       with jansson and submit SUBSCRIBERS background copies of its
 *       payload to <topic>_s<i> in one batch, the copies sharing one random
 *       unique as gearhorn-fanout's do (add_task_background x K +
 *       run_tasks), as gearhorn-fanout does.
 *   bench_fanout worker -s HOST:PORT [-n EVENTS] [-k SUBSCRIBERS] [-i INFLIGHT] [-p SIZE]
 *       Against gearhorn-fanout: subscribes s0..s<K-1> to topic "bench",
 *       then submits EVENTS background fanouts as foreground gearman jobs,
 *       INFLIGHT at a time (add_task x INFLIGHT + run_tasks, in rounds). A
 *       fanout job returns once gearmand has queued its copies, so each
 *       finished job is K copies queued.
 *   bench_fanout subscribe -s HOST:PORT [-n N] [-i INFLIGHT]
 *       N subscribe_fanout jobs (client ids c0..c<N-1> on topic "subbench"),
 *       then N unsubscribe_fanout jobs, INFLIGHT at a time.
 *
 * Prints one line per measured phase: mode, count, seconds, rate (events or
 * jobs per second) and, for fanouts, copies_rate (copies queued per
 * second). The first tenth of the events warms up and is not counted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <libgearman-1.0/gearman.h>

#include "util.h"

typedef struct {
	const char *host;
	in_port_t port;
	long count, subscribers, inflight;
	size_t size;
} opts_t;

/* Outcome of the foreground jobs of one round. */
typedef struct {
	long done, failed;
	const char *expect; /* the result every job must return, NULL: any */
} round_t;

static void
die(const char *what, gearman_client_st *c)
{
	fprintf(stderr, "bench_fanout: %s: %s\n", what,
	        c != NULL ? gearman_client_error(c) : "failed");
	exit(1);
}

static gearman_client_st *
connect_client(const opts_t *o)
{
	gearman_client_st *c = gearman_client_create(NULL);

	if (c == NULL)
		die("gearman_client_create", NULL);
	if (gearman_client_add_server(c, o->host, o->port) != GEARMAN_SUCCESS)
		die("gearman_client_add_server", c);
	gearman_client_add_options(c, GEARMAN_CLIENT_EXCEPTION);
	return c;
}

static void
report(const char *mode, long n, uint64_t elapsed_us, long per_event)
{
	double s = (double)elapsed_us / 1e6;

	printf("mode=%s count=%ld seconds=%.3f rate=%.0f", mode, n, s, (double)n / s);
	if (per_event > 0)
		printf(" subscribers=%ld copies_rate=%.0f", per_event, (double)(n * per_event) / s);
	printf("\n");
	fflush(stdout);
}

/* ---- foreground jobs in rounds ---- */

static gearman_return_t
on_complete(gearman_task_st *task)
{
	round_t *r = gearman_task_context(task);
	const void *data = gearman_task_data(task);
	size_t len = gearman_task_data_size(task);

	if (r->expect != NULL &&
	    (len != strlen(r->expect) || data == NULL || memcmp(data, r->expect, len) != 0)) {
		if (r->failed++ == 0)
			fprintf(stderr, "bench_fanout: unexpected result \"%.*s\"\n",
			        (int)(len < 200 ? len : 200), data ? (const char *)data : "");
	}
	r->done++;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_failure(gearman_task_st *task)
{
	round_t *r = gearman_task_context(task);

	if (r->failed++ == 0) {
		gearman_string_t e = gearman_task_exception(task);

		fprintf(stderr, "bench_fanout: job failed: %.*s\n", (int)e.size,
		        e.c_str ? e.c_str : "(no text)");
	}
	r->done++;
	return GEARMAN_SUCCESS;
}

/* Runs jobs [from, to) of FUNCTION, INFLIGHT at a time; workload(i) gives
 * job i's workload. Exits on any failure. */
static void
run_jobs(gearman_client_st *c, const char *function, long from, long to, long inflight,
         const char *expect, char *(*workload)(long i, void *arg), void *arg)
{
	long i = from;

	while (i < to) {
		round_t r = {0, 0, expect};
		long n = 0;

		gearman_client_task_free_all(c);
		for (; i < to && n < inflight; i++, n++) {
			gearman_return_t rc;
			char *w = workload(i, arg);

			if (gearman_client_add_task(c, NULL, &r, function, NULL, w, strlen(w),
			                            &rc) == NULL)
				die("gearman_client_add_task", c);
			free(w);
		}
		if (gearman_client_run_tasks(c) != GEARMAN_SUCCESS)
			die("gearman_client_run_tasks", c);
		if (r.failed > 0 || r.done != n) {
			fprintf(stderr, "bench_fanout: %s: %ld of %ld jobs failed\n", function,
			        r.failed + (n - r.done), n);
			exit(1);
		}
	}
	gearman_client_task_free_all(c);
}

static char *
fanout_workload(long i, void *arg)
{
	GH_UNUSED(i);
	return gh_strdup(arg);
}

static char *
sub_workload(long i, void *arg)
{
	return gh_asprintf("{\"topic\":\"%s\",\"client_id\":\"%c%ld\"}", (const char *)arg,
	                   strcmp(arg, "bench") == 0 ? 's' : 'c', i);
}

static void
set_callbacks(gearman_client_st *c)
{
	gearman_client_set_complete_fn(c, on_complete);
	gearman_client_set_fail_fn(c, on_failure);
	gearman_client_set_exception_fn(c, on_failure);
}

/* ---- modes ---- */

static char *
fanout_message(const opts_t *o)
{
	char *payload = gh_malloc(o->size + 1), *msg;

	memset(payload, 'x', o->size);
	payload[o->size] = '\0';
	msg = gh_asprintf("{\"topic\":\"bench\",\"payload\":\"%s\",\"background\":true}", payload);
	free(payload);
	return msg;
}

/* One event of the baseline: what a fanout worker does for a background
 * fanout, less the subscriber lookup and the gearman worker side. */
static void
bare_event(gearman_client_st *c, const char *msg, size_t msglen, long k)
{
	json_error_t e;
	json_t *j = json_loadb(msg, msglen, 0, &e), *topic, *payload;
	char unique[GH_UUID_LEN + 1];
	gearman_return_t rc;
	long i;

	if (j == NULL) {
		fprintf(stderr, "bench_fanout: %s\n", e.text);
		exit(1);
	}
	topic = json_object_get(j, "topic");
	payload = json_object_get(j, "payload");
	if (!json_is_string(topic) || !json_is_string(payload))
		die("bad fanout message", NULL);
	/* One unique for the event's copies, as gearhorn-fanout does. */
	gh_uuid(unique);
	for (i = 0; i < k; i++) {
		char fn[256];

		snprintf(fn, sizeof(fn), "%s_s%ld", json_string_value(topic), i);
		if (gearman_client_add_task_background(c, NULL, NULL, fn, unique,
		                                       json_string_value(payload),
		                                       json_string_length(payload), &rc) == NULL)
			die("gearman_client_add_task_background", c);
	}
	if (gearman_client_run_tasks(c) != GEARMAN_SUCCESS)
		die("gearman_client_run_tasks", c);
	gearman_client_task_free_all(c);
	json_decref(j);
}

static void
mode_bare(const opts_t *o)
{
	gearman_client_st *c = connect_client(o);
	char *msg = fanout_message(o);
	size_t msglen = strlen(msg);
	long i, warm = o->count / 10;
	uint64_t t0 = gh_now_us();

	for (i = 0; i < o->count; i++) {
		if (i == warm)
			t0 = gh_now_us();
		bare_event(c, msg, msglen, o->subscribers);
	}
	report("bare", o->count - warm, gh_now_us() - t0, o->subscribers);
	free(msg);
	gearman_client_free(c);
}

static void
mode_worker(const opts_t *o)
{
	gearman_client_st *c = connect_client(o);
	char *msg = fanout_message(o);
	long warm = o->count / 10;
	uint64_t t0;

	set_callbacks(c);
	/* Subscribing is idempotent; "0" is what a background fanout returns. */
	run_jobs(c, "subscribe_fanout", 0, o->subscribers, o->inflight, NULL, sub_workload,
	         "bench");
	run_jobs(c, "fanout", 0, warm, o->inflight, "0", fanout_workload, msg);
	t0 = gh_now_us();
	run_jobs(c, "fanout", warm, o->count, o->inflight, "0", fanout_workload, msg);
	report("worker", o->count - warm, gh_now_us() - t0, o->subscribers);
	free(msg);
	gearman_client_free(c);
}

static void
mode_subscribe(const opts_t *o)
{
	gearman_client_st *c = connect_client(o);
	uint64_t t0;

	set_callbacks(c);
	t0 = gh_now_us();
	run_jobs(c, "subscribe_fanout", 0, o->count, o->inflight, NULL, sub_workload, "subbench");
	report("subscribe", o->count, gh_now_us() - t0, 0);
	t0 = gh_now_us();
	run_jobs(c, "unsubscribe_fanout", 0, o->count, o->inflight, NULL, sub_workload, "subbench");
	report("unsubscribe", o->count, gh_now_us() - t0, 0);
	gearman_client_free(c);
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench_fanout bare|worker|subscribe -s HOST:PORT [-n COUNT] "
	                "[-k SUBSCRIBERS] [-i INFLIGHT] [-p SIZE]\n");
	return 64;
}

int
main(int argc, char **argv)
{
	opts_t o = {NULL, 4730, 20000, 10, 100, 100};
	const char *mode;
	char *server = NULL, *colon;
	int ch;

	if (argc < 2)
		return usage();
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "s:n:k:i:p:")) != -1) {
		switch (ch) {
		case 's':
			server = optarg;
			break;
		case 'n':
			o.count = strtol(optarg, NULL, 10);
			break;
		case 'k':
			o.subscribers = strtol(optarg, NULL, 10);
			break;
		case 'i':
			o.inflight = strtol(optarg, NULL, 10);
			break;
		case 'p':
			o.size = (size_t)strtoul(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	if (server == NULL || optind != argc || o.count < 10 || o.subscribers < 1 ||
	    o.subscribers > 10000 || o.inflight < 1 || o.size < 1 || o.size > 1000000)
		return usage();
	o.host = server;
	colon = strrchr(server, ':');
	if (colon != NULL) {
		*colon = '\0';
		o.port = (in_port_t)strtol(colon + 1, NULL, 10);
	}
	if (strcmp(mode, "bare") == 0)
		mode_bare(&o);
	else if (strcmp(mode, "worker") == 0)
		mode_worker(&o);
	else if (strcmp(mode, "subscribe") == 0)
		mode_subscribe(&o);
	else
		return usage();
	return 0;
}
