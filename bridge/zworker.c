/*
 * zworker.c: gearman -> ZeroMQ. Worker threads register the functions of
 * [bridge] to_zeromq and subscribe with gearmand; each gearman job becomes
 * a REQUEST (reply-requested) to its queue through the router frontends,
 * and the eMQP result becomes the gearman result. A thread that ends says
 * "bye" on BRIDGE_SLOTS, so that the main loop knows when all are done.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <zmq.h>

#include "bridge_int.h"
#include "client_int.h"
#include "log.h"
#include "startup.h"

#define BRIDGE_POLL_MS 1000  /* gearman_worker_work returns to look at the stop flag */
#define ZW_ACK_WAIT_MS 10000 /* a router acknowledges a job within this, or the next is tried */

static long
job_wait_ms(bridge_t *b)
{
	long t = __atomic_load_n(&b->timeout, __ATOMIC_RELAXED);

	/* The router answers timeout at the job's timeout plus a heartbeat
	 * timeout; give it room. No timeout: wait a day. */
	return t > 0 ? (t + 3 * __atomic_load_n(&b->hb_timeout_s, __ATOMIC_RELAXED) + 5) * 1000
	             : 86400L * 1000;
}

static void *
zw_job(gearman_job_st *job, void *context, size_t *result_size, gearman_return_t *ret_ptr)
{
	zroute_t *r = context;
	bridge_t *b = r->z->b;
	gearhorn_submit_opts_t o;
	char *body, *res = NULL, *out = NULL, err[1024];
	size_t blen, rlen = 0, outlen = 0;
	long t = __atomic_load_n(&b->timeout, __ATOMIC_RELAXED);
	int ok;

	body = bridge_wrap(r->in, gearman_job_workload(job), gearman_job_workload_size(job), &blen);
	gearhorn_submit_opts_init(&o);
	o.wait = 1;
	o.guarantee = __atomic_load_n(&b->guarantee, __ATOMIC_RELAXED);
	o.timeout = t > 0 ? t : -1;
	o.wait_ms = job_wait_ms(b);
	/* A router that does not take the job soon is passed for the next. */
	o.ack_wait_ms = ZW_ACK_WAIT_MS;
	ok = gearhorn_submit(r->z->client, r->in->queue, body, blen, &o, &res, &rlen, err,
	                     sizeof(err)) == 0 &&
	     bridge_result_from_json(r->in, res, rlen, &out, &outlen, err, sizeof(err)) == 0;
	free(body);
	free(res);
	if (ok) {
		*result_size = outlen;
		*ret_ptr = GEARMAN_SUCCESS;
		return out;
	}
	log_info("%s -> %s: %s", r->in->function, r->in->queue, err);
	/* gearmand passes WORK_EXCEPTION only to clients that asked for
	 * exceptions and leaves the others waiting for ever: the reason goes
	 * as WORK_WARNING, which every client gets, then WORK_FAIL. */
	gearman_job_send_warning(job, err, strlen(err));
	*ret_ptr = GEARMAN_WORK_FAIL;
	r->z->failed = 1;
	*result_size = 0;
	return NULL;
}

void
zw_sleep(bridge_t *b, long ms)
{
	while (ms > 0 && !__atomic_load_n(&b->zstop, __ATOMIC_ACQUIRE)) {
		long step = ms < 100 ? ms : 100;
		struct timespec ts = {0, step * 1000000L};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Tells the main loop that this thread is done (a message on the slots
 * socket from a socket of its own). */
static void
zw_bye(bridge_t *b, int index)
{
	void *s = zmq_socket(b->ctx, ZMQ_DEALER);
	char id[BRIDGE_ID_LEN];
	int linger = 1000;

	snprintf(id, sizeof(id), "z%d", index);
	zmq_setsockopt(s, ZMQ_ROUTING_ID, id, strlen(id));
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(s, BRIDGE_SLOTS) == 0)
		zmq_send(s, "bye", 3, 0);
	zmq_close(s);
}

static void *
zw_main(void *arg)
{
	zworker_t *z = arg;
	bridge_t *b = z->b;
	gearman_return_t last = GEARMAN_SUCCESS;
	int trouble = 0;

	while (!__atomic_load_n(&b->zstop, __ATOMIC_ACQUIRE)) {
		gearman_return_t rc;

		rc = gearman_worker_work(z->worker);
		/* After a job that ended with WORK_FAIL, libgearman reports
		 * that job's failure (GEARMAN_WORK_FAIL, or in 1.1.20
		 * GEARMAN_UNKNOWN_STATE): the connection is fine. */
		if (z->failed && (rc == GEARMAN_WORK_FAIL || rc == GEARMAN_UNKNOWN_STATE))
			rc = GEARMAN_SUCCESS;
		z->failed = 0;
		if (rc == GEARMAN_SUCCESS || rc == GEARMAN_TIMEOUT || rc == GEARMAN_IO_WAIT) {
			if (trouble && rc == GEARMAN_SUCCESS)
				log_notice("gearman worker %d: serving jobs again", z->index);
			trouble = rc == GEARMAN_SUCCESS ? 0 : trouble;
			z->backoff = 0;
			continue;
		}
		z->backoff = backoff_next(z->backoff);
		log_msg(rc != last || !trouble ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG,
		        "gearman worker %d: %s; retrying in %ld ms", z->index,
		        gearman_worker_error(z->worker) ? gearman_worker_error(z->worker)
		                                        : gearman_strerror(rc),
		        z->backoff);
		trouble = 1;
		last = rc;
		zw_sleep(b, z->backoff);
	}
	zw_bye(b, z->index);
	return NULL;
}

static int
zw_init(bridge_t *b, zworker_t *z, const char *frontends, const gearhorn_curve_t *keys, char *err,
        size_t errlen)
{
	char host[256];
	size_t i;
	int port;

	z->b = b;
	if ((z->worker = gearman_worker_create(NULL)) == NULL)
		return gh_err(err, errlen, "cannot create a gearman worker");
	gearman_worker_set_identifier(z->worker, b->identifier, strlen(b->identifier));
	gearman_worker_set_timeout(z->worker, BRIDGE_POLL_MS);
	for (i = 0; i < b->nservers; i++) {
		if (conf_parse_server(b->servers[i], host, sizeof(host), &port, err, errlen) < 0)
			return -1;
		if (gearman_worker_add_server(z->worker, host, (in_port_t)port) != GEARMAN_SUCCESS)
			return gh_err(err, errlen, "%s: %s", b->servers[i],
			              gearman_worker_error(z->worker));
	}
	z->routes = gh_calloc(b->nins, sizeof(*z->routes));
	for (i = 0; i < b->nins; i++) {
		z->routes[i].z = z;
		z->routes[i].in = &b->ins[i];
		if (gearman_worker_add_function(z->worker, b->ins[i].function, 0, zw_job,
		                                &z->routes[i]) != GEARMAN_SUCCESS)
			return gh_err(err, errlen, "cannot register %s: %s", b->ins[i].function,
			              gearman_worker_error(z->worker));
	}
	if ((z->client = client_new_in(b->ctx, frontends, keys, err, errlen)) == NULL)
		return -1;
	return 0;
}

static void
zw_free(zworker_t *z)
{
	if (z->worker != NULL)
		gearman_worker_free(z->worker);
	gearhorn_client_destroy(&z->client);
	free(z->routes);
}

int
zw_setup(bridge_t *b, gh_error_t *e)
{
	char *frontends = NULL, **fe;
	gearhorn_curve_t keys;
	size_t nfe, i;
	int rc = 0;

	if (startup_curve(b->conf, BRIDGE_SECTION, &keys, e) != 0)
		return -1;
	fe = conf_get_list(b->conf, BRIDGE_SECTION, "router_frontend", &nfe);
	for (i = 0; i < nfe; i++)
		gh_list_append(&frontends, fe[i]);
	if (frontends == NULL)
		frontends = gh_strdup("");
	conf_list_free(fe, nfe);
	b->nzw = (size_t)b->nthreads;
	b->zw = gh_calloc(b->nzw, sizeof(*b->zw));
	for (i = 0; i < b->nzw && rc == 0; i++) {
		b->zw[i].index = (int)i;
		rc = zw_init(b, &b->zw[i], frontends, &keys, e->text, sizeof(e->text));
	}
	explicit_bzero(&keys, sizeof(keys));
	free(frontends);
	if (rc != 0)
		e->status = EX_CONFIG;
	return rc;
}

int
zw_start(bridge_t *b)
{
	size_t i;

	for (i = 0; i < b->nzw; i++) {
		if (pthread_create(&b->zw[i].thread, NULL, zw_main, &b->zw[i]) != 0)
			return -1;
		b->zw[i].started = 1;
		b->zrunning++;
	}
	return 0;
}

void
zw_join(bridge_t *b)
{
	size_t i;

	for (i = 0; i < b->nzw; i++) {
		if (b->zw[i].started)
			pthread_join(b->zw[i].thread, NULL);
		zw_free(&b->zw[i]);
	}
	free(b->zw);
	b->zw = NULL;
	b->nzw = 0;
}
