/*
 * bench_gearman: foreground gearman jobs, for make bench.
 *
 *   bench_gearman worker -s HOST:PORT -f FUNCTION
 *       A gearman echo worker: registers FUNCTION and returns every workload
 *       unchanged, until SIGTERM.
 *   bench_gearman client -s HOST:PORT -f FUNCTION [-n COUNT] [-i INFLIGHT] [-b SIZE]
 *       COUNT foreground jobs of FUNCTION in rounds of INFLIGHT (add_task x
 *       INFLIGHT + run_tasks), each with its own printable SIZE-byte
 *       workload; every result must equal its workload. Against one
 *       `bench_gearman worker` this is the baseline "gearmand, add_task x100
 *       + run_tasks, 1 worker"; against gearhorn-bridge, the bridged path.
 *
 * The client prints one line: mode, inflight, count, seconds, rate (jobs per
 * second), p50 and p99 latency in microseconds (from the start of a job's
 * round to its result). The first tenth of the jobs warms up and is not
 * counted. It exits 1 if any job failed or returned other than its workload.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libgearman-1.0/gearman.h>

#include "conf.h"
#include "util.h"

typedef struct {
	const char *host;
	in_port_t port;
	const char *function;
	long count, inflight;
	size_t size;
} opts_t;

/* One job of a round: its workload and when its result came. */
typedef struct {
	char *workload;
	uint64_t done_us;
	int ended;
} job_t;

/* Outcome of all rounds so far. */
typedef struct {
	long done, failed, mismatched;
} tally_t;

static tally_t tally;

static void
die(const char *what, const char *error)
{
	fprintf(stderr, "bench_gearman: %s: %s\n", what, error != NULL ? error : "failed");
	exit(1);
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- worker ---- */

static void *
echo(gearman_job_st *job, void *context, size_t *result_size, gearman_return_t *ret_ptr)
{
	size_t len = gearman_job_workload_size(job);
	char *r = malloc(len > 0 ? len : 1);

	GH_UNUSED(context);
	if (r == NULL) {
		*ret_ptr = GEARMAN_WORK_FAIL;
		return NULL;
	}
	if (len > 0)
		memcpy(r, gearman_job_workload(job), len);
	*result_size = len;
	*ret_ptr = GEARMAN_SUCCESS;
	return r;
}

static void
mode_worker(const opts_t *o)
{
	gearman_worker_st *w = gearman_worker_create(NULL);

	if (w == NULL)
		die("gearman_worker_create", NULL);
	if (gearman_worker_add_server(w, o->host, o->port) != GEARMAN_SUCCESS)
		die("gearman_worker_add_server", gearman_worker_error(w));
	if (gearman_worker_add_function(w, o->function, 0, echo, NULL) != GEARMAN_SUCCESS)
		die("gearman_worker_add_function", gearman_worker_error(w));
	/* SIGTERM's default action ends the process. */
	for (;;) {
		gearman_return_t rc = gearman_worker_work(w);

		if (rc != GEARMAN_SUCCESS && rc != GEARMAN_IO_WAIT && rc != GEARMAN_TIMEOUT &&
		    rc != GEARMAN_NO_JOBS)
			die("gearman_worker_work", gearman_worker_error(w));
	}
}

/* ---- client ---- */

static gearman_return_t
on_complete(gearman_task_st *task)
{
	job_t *j = gearman_task_context(task);
	const void *data = gearman_task_data(task);
	size_t len = gearman_task_data_size(task);

	if (j->ended)
		return GEARMAN_SUCCESS;
	j->ended = 1;
	j->done_us = gh_now_us();
	if (len != strlen(j->workload) ||
	    (len > 0 && (data == NULL || memcmp(data, j->workload, len) != 0))) {
		if (tally.mismatched++ == 0)
			fprintf(stderr,
			        "bench_gearman: result \"%.*s\" is not the workload \"%.*s\"\n",
			        (int)(len < 200 ? len : 200), data ? (const char *)data : "",
			        (int)(strlen(j->workload) < 200 ? strlen(j->workload) : 200),
			        j->workload);
	}
	tally.done++;
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_failure(gearman_task_st *task)
{
	job_t *j = gearman_task_context(task);

	if (j->ended)
		return GEARMAN_SUCCESS;
	j->ended = 1;
	j->done_us = gh_now_us();
	if (tally.failed++ == 0) {
		gearman_string_t e = gearman_task_exception(task);

		fprintf(stderr, "bench_gearman: job failed: %.*s\n", (int)e.size,
		        e.c_str ? e.c_str : "(no text)");
	}
	tally.done++;
	return GEARMAN_SUCCESS;
}

/* Job i's workload: its number, then printable filler, SIZE bytes in all. */
static void
fill_workload(char *w, size_t size, long i)
{
	static const char filler[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	int n = snprintf(w, size + 1, "%ld:", i);
	size_t k;

	for (k = n > 0 ? (size_t)n : 0; k < size; k++)
		w[k] = filler[(k + (size_t)i) % (sizeof(filler) - 1)];
	w[size] = '\0';
}

static int
mode_client(const opts_t *o)
{
	gearman_client_st *c = gearman_client_create(NULL);
	job_t *jobs = gh_calloc((size_t)o->inflight, sizeof(*jobs));
	uint64_t *lat = gh_calloc((size_t)o->count, sizeof(*lat));
	long next = 0, nlat = 0, warm = o->count / 10, k;
	uint64_t t0 = 0, elapsed;

	if (c == NULL)
		die("gearman_client_create", NULL);
	if (gearman_client_add_server(c, o->host, o->port) != GEARMAN_SUCCESS)
		die("gearman_client_add_server", gearman_client_error(c));
	gearman_client_add_options(c, GEARMAN_CLIENT_EXCEPTION);
	gearman_client_set_complete_fn(c, on_complete);
	gearman_client_set_fail_fn(c, on_failure);
	gearman_client_set_exception_fn(c, on_failure);
	for (k = 0; k < o->inflight; k++)
		jobs[k].workload = gh_malloc(o->size + 1);

	while (next < o->count) {
		long n = 0, before = tally.done;
		uint64_t start;

		start = gh_now_us();
		/* The rounds begun after the first tenth are measured. */
		if (next >= warm && t0 == 0)
			t0 = start;
		for (; next < o->count && n < o->inflight; next++, n++) {
			job_t *j = &jobs[n];
			gearman_return_t rc;

			fill_workload(j->workload, o->size, next);
			j->ended = 0;
			if (gearman_client_add_task(c, NULL, j, o->function, NULL, j->workload,
			                            o->size, &rc) == NULL)
				die("gearman_client_add_task", gearman_client_error(c));
		}
		if (gearman_client_run_tasks(c) != GEARMAN_SUCCESS)
			die("gearman_client_run_tasks", gearman_client_error(c));
		gearman_client_task_free_all(c);
		if (tally.done - before != n) {
			fprintf(stderr, "bench_gearman: %ld of %ld jobs of a round did not end\n",
			        n - (tally.done - before), n);
			exit(1);
		}
		if (t0 != 0)
			for (k = 0; k < n; k++)
				lat[nlat++] = jobs[k].done_us - start;
	}
	elapsed = gh_now_us() - t0;
	if (nlat == 0)
		die("nothing measured", "COUNT too small for INFLIGHT");
	qsort(lat, (size_t)nlat, sizeof(*lat), cmp_u64);
	printf("mode=client inflight=%ld count=%ld seconds=%.3f rate=%.0f p50_us=%llu "
	       "p99_us=%llu failed=%ld mismatched=%ld\n",
	       o->inflight, nlat, (double)elapsed / 1e6, (double)nlat * 1e6 / (double)elapsed,
	       (unsigned long long)lat[nlat / 2], (unsigned long long)lat[(nlat * 99) / 100],
	       tally.failed, tally.mismatched);
	fflush(stdout);
	for (k = 0; k < o->inflight; k++)
		free(jobs[k].workload);
	free(jobs);
	free(lat);
	gearman_client_free(c);
	return tally.failed > 0 || tally.mismatched > 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: bench_gearman worker -s HOST:PORT -f FUNCTION\n"
	                "       bench_gearman client -s HOST:PORT -f FUNCTION [-n COUNT] "
	                "[-i INFLIGHT] [-b SIZE]\n");
	return 64;
}

int
main(int argc, char **argv)
{
	opts_t o = {NULL, 4730, NULL, 20000, 100, 100};
	const char *mode;
	char *server = NULL, host[256], err[256];
	int ch, port;

	if (argc < 2)
		return usage();
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "s:f:n:i:b:")) != -1) {
		switch (ch) {
		case 's':
			server = optarg;
			break;
		case 'f':
			o.function = optarg;
			break;
		case 'n':
			o.count = strtol(optarg, NULL, 10);
			break;
		case 'i':
			o.inflight = strtol(optarg, NULL, 10);
			break;
		case 'b':
			o.size = (size_t)strtoul(optarg, NULL, 10);
			break;
		default:
			return usage();
		}
	}
	if (server == NULL || o.function == NULL || optind != argc || o.count < 10 ||
	    o.inflight < 1 || o.inflight > 100000 || o.size < 1 || o.size > 1000000)
		return usage();
	if (conf_parse_server(server, host, sizeof(host), &port, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_gearman: %s\n", err);
		return 64;
	}
	o.host = host;
	o.port = (in_port_t)port;
	if (strcmp(mode, "worker") == 0) {
		mode_worker(&o);
		return 0;
	}
	if (strcmp(mode, "client") == 0)
		return mode_client(&o);
	return usage();
}
