/*
 * routers_client.c: a libgearhorn client of several routers, for
 * tests/routers.test.
 *
 * usage: routers_client ENDPOINTS QUEUE N WAIT_MS PAUSE_MS
 * Submits N guarantee jobs to QUEUE, one at a time and PAUSE_MS apart
 * (so that a router can be killed mid-stream), through one client
 * holding every router of the comma-separated ENDPOINTS. Job i carries the
 * body ["run", {"args": [i], ...}]. Prints "ack I ENDPOINT" (the router that
 * acknowledged it) or "fail I CLASS ERROR" for each, flushed at once, so that
 * the test can kill a router mid-stream. Exit 0 when the stream ran to its
 * end (whatever the failures), 1 on bad usage.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "gearhorn.h"

int
main(int argc, char **argv)
{
	char err[512], body[256];
	gearhorn_submit_opts_t o;
	gearhorn_client_t *c;
	useconds_t pause_us;
	long n, i;

	if (argc != 6) {
		fprintf(stderr, "usage: routers_client ENDPOINTS QUEUE N WAIT_MS PAUSE_MS\n");
		return 1;
	}
	if ((c = gearhorn_client_new(argv[1], err, sizeof(err))) == NULL) {
		fprintf(stderr, "routers_client: %s\n", err);
		return 1;
	}
	n = strtol(argv[3], NULL, 10);
	pause_us = (useconds_t)strtol(argv[5], NULL, 10) * 1000;
	gearhorn_submit_opts_init(&o);
	o.guarantee = 1;
	o.wait_ms = strtol(argv[4], NULL, 10);
	for (i = 0; i < n; i++) {
		int rc;

		snprintf(body, sizeof(body),
		         "[\"run\", {\"callable\": \"echo\", \"path\": \"builtin\", \"args\": "
		         "[%ld], \"kwargs\": {}, \"class_args\": [], \"class_kwargs\": {}}]",
		         i);
		rc = gearhorn_submit(c, argv[2], body, strlen(body), &o, NULL, NULL, err,
		                     sizeof(err));
		if (rc == 0)
			printf("ack %ld %s\n", i, client_current(c));
		else
			printf("fail %ld %d %s\n", i, rc, err);
		fflush(stdout);
		usleep(pause_us);
	}
	gearhorn_client_destroy(&c);
	return 0;
}
