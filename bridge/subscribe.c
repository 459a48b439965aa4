/*
 * subscribe.c: the bridge's fanout subscriptions ([bridge] subscribe). A
 * thread of their own makes them at start and renews them every period
 * (a fanout worker may have lost them, or they would lapse), so that no
 * job delays the renewal.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bridge_int.h"
#include "log.h"

#define BRIDGE_RESUBSCRIBE_S       60 /* the longest renewal period of subscriptions */
#define BRIDGE_RESUBSCRIBE_RETRY_S 5  /* after a failed subscription */

/* Subscriptions are renewed every BRIDGE_RESUBSCRIBE_S seconds, or three
 * times per [fanout] subscription_ttl when that is shorter (the fanout
 * worker reads the same file, as a rule). */
long
sub_period(const conf_t *c)
{
	long ttl = conf_get_int(c, "fanout", "subscription_ttl");

	if (ttl > 0 && ttl / 3 < BRIDGE_RESUBSCRIBE_S)
		return ttl / 3 > 0 ? ttl / 3 : 1;
	return BRIDGE_RESUBSCRIBE_S;
}

/* (Re)makes the fanout subscriptions when due, at start and every
 * resubscribe_s seconds; about 5 seconds after a failure. */
static void
subscribe_all(bridge_t *b)
{
	uint64_t now = gh_now_ms();
	long period = __atomic_load_n(&b->resubscribe_s, __ATOMIC_RELAXED);
	char err[512];
	size_t i;

	if (now < b->sub_next_ms)
		return;
	/* Until it succeeds: again in a while. */
	b->sub_next_ms =
	    now +
	    (uint64_t)(period < BRIDGE_RESUBSCRIBE_RETRY_S ? period : BRIDGE_RESUBSCRIBE_RETRY_S) *
	        1000;
	if (b->sub_client == NULL &&
	    (b->sub_client = gclient_new(b, b->sub_server, err, sizeof(err))) == NULL) {
		log_warn("subscribe: %s", err);
		return;
	}
	gearman_client_set_timeout(b->sub_client, 5000);
	for (i = 0; i < b->ntopics; i++) {
		json_t *j =
		    json_pack("{s:s,s:s}", "topic", b->topics[i], "client_id", b->subscriber);
		char *s = json_dumps(j, JSON_COMPACT);
		gearman_return_t rc;
		size_t len;
		void *res = gearman_client_do(b->sub_client, "subscribe_fanout", NULL, s, strlen(s),
		                              &len, &rc);

		free(res);
		free(s);
		json_decref(j);
		if (rc != GEARMAN_SUCCESS) {
			log_warn("subscribe_fanout %s as %s: %s; trying again", b->topics[i],
			         b->subscriber,
			         gearman_client_error(b->sub_client)
			             ? gearman_client_error(b->sub_client)
			             : gearman_strerror(rc));
			gearman_client_free(b->sub_client);
			b->sub_client = NULL;
			/* The next attempt through the next job server. */
			b->sub_server = (b->sub_server + 1) % b->nservers;
			return;
		}
		if (!b->subscribed)
			log_notice("subscribed to %s as %s", b->topics[i], b->subscriber);
	}
	if (b->subscribed)
		log_debug("subscriptions renewed; next in %ld s", period);
	b->subscribed = 1;
	b->sub_next_ms = now + (uint64_t)period * 1000;
}

static void *
sub_main(void *arg)
{
	bridge_t *b = arg;

	while (!__atomic_load_n(&b->zstop, __ATOMIC_ACQUIRE)) {
		subscribe_all(b);
		zw_sleep(b, 1000);
	}
	if (b->sub_client != NULL)
		gearman_client_free(b->sub_client);
	b->sub_client = NULL;
	return NULL;
}

int
sub_start(bridge_t *b)
{
	if (b->ntopics == 0)
		return 0;
	if (pthread_create(&b->sub_thread, NULL, sub_main, b) != 0)
		return -1;
	b->sub_started = 1;
	return 0;
}

void
sub_join(bridge_t *b)
{
	if (b->sub_started)
		pthread_join(b->sub_thread, NULL);
	b->sub_started = 0;
}
