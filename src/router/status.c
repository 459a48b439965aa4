/*
 * status.c: the admin JSON documents: STATUS (EventMQ's keys plus
 * gearhorn's per-queue detail), ROUTER_SHOW_WORKERS and
 * ROUTER_SHOW_SCHEDULERS.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "broker.h"
#include "broker_int.h"
#include "log.h"

/* JSON keys must be UTF-8: identities that are not printable ASCII are
 * hex-escaped (uuid text, EventMQ's, passes unchanged). */
static const char *
key_text(const void *id, size_t len, char *buf, size_t buflen)
{
	return log_escape(id, len, buf, buflen);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static json_t *
latency_percentiles(const bqueue_t *q)
{
	uint32_t v[BROKER_LAT_RING];
	json_t *o = json_object();
	static const struct {
		const char *name;
		unsigned pct;
	} p[] = {{"p50", 50}, {"p90", 90}, {"p99", 99}};

	if (q->nlat)
		memcpy(v, q->lat, q->nlat * sizeof(*v));
	qsort(v, q->nlat, sizeof(*v), cmp_u32);
	for (size_t i = 0; i < GH_ARRAY_LEN(p); i++) {
		if (q->nlat == 0) {
			json_object_set_new(o, p[i].name, json_null());
		} else {
			size_t idx = (q->nlat * p[i].pct + 99) / 100;
			idx = idx ? idx - 1 : 0;
			json_object_set_new(o, p[i].name, json_integer(v[idx]));
		}
	}
	return o;
}

static char *
dump(json_t *root)
{
	char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(root);
	return s ? s : gh_strdup("{}");
}

char *
broker_status_json(broker_t *b, uint64_t now_ms)
{
	json_t *root = json_object(), *inflight = json_object(), *lat = json_object(),
	       *maxlat = json_object(), *proc = json_object(), *procw = json_object(),
	       *waiting = json_object(), *queues = json_object();
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;
	char buf[1024];

	dict_iter_init(b->queues, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bqueue_t *q = v;
		json_t *o = json_object();
		const char *name = q->name; /* valid UTF-8 (proto_valid_name) */
		if (q->inflight)
			json_object_set_new(inflight, name, json_integer((json_int_t)q->inflight));
		if (q->processed)
			json_object_set_new(proc, name, json_integer((json_int_t)q->processed));
		if (q->waiting.n)
			json_object_set_new(waiting, name, json_integer((json_int_t)q->waiting.n));
		json_object_set_new(o, "waiting", json_integer((json_int_t)q->waiting.n));
		json_object_set_new(o, "inflight", json_integer((json_int_t)q->inflight));
		json_object_set_new(o, "bytes", json_integer((json_int_t)q->bytes));
		json_object_set_new(o, "workers", json_integer((json_int_t)q->nworkers));
		json_object_set_new(o, "processed", json_integer((json_int_t)q->processed));
		json_object_set_new(o, "failed", json_integer((json_int_t)q->failed));
		json_object_set_new(o, "expired", json_integer((json_int_t)q->expired));
		json_object_set_new(o, "rejected", json_integer((json_int_t)q->rejected));
		json_object_set_new(o, "latency_ms", latency_percentiles(q));
		json_object_set_new(queues, name, o);
	}
	/* EventMQ's latency keys: mean and max age (ms) of the jobs in flight. */
	dict_iter_init(b->workers, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bworker_t *w = v;
		if (w->processed)
			json_object_set_new(procw, key_text(k, kl, buf, sizeof(buf)),
			                    json_integer((json_int_t)w->processed));
		for (bjob_t *j = w->inflight.head; j; j = j->next) {
			const char *name = j->queue->name;
			json_int_t age = (json_int_t)(now_ms - j->accepted_ms);
			json_t *sum = json_object_get(lat, name),
			       *mx = json_object_get(maxlat, name);
			json_object_set_new(
			    lat, name, json_integer((sum ? json_integer_value(sum) : 0) + age));
			if (!mx || json_integer_value(mx) < age)
				json_object_set_new(maxlat, name, json_integer(age));
		}
	}
	{
		const char *key;
		json_t *val;
		json_object_foreach(lat, key, val)
		{
			json_t *n = json_object_get(inflight, key);
			json_int_t cnt = n ? json_integer_value(n) : 1;
			json_integer_set(val, json_integer_value(val) / (cnt ? cnt : 1));
		}
	}
	json_object_set_new(root, "inflight_messages_by_queue", inflight);
	json_object_set_new(root, "latency_messages_by_queue", lat);
	json_object_set_new(root, "max_latency_messages_by_queue", maxlat);
	json_object_set_new(root, "processed_messages_by_queue", proc);
	json_object_set_new(root, "processed_messages_by_worker", procw);
	json_object_set_new(root, "waiting_messages_by_queue", waiting);
	json_object_set_new(root, "queues", queues);
	json_object_set_new(root, "uptime_s",
	                    json_integer((json_int_t)((now_ms - b->started_ms) / 1000)));
	json_object_set_new(root, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(root, "undeliverable", json_integer((json_int_t)b->undeliverable));
	json_object_set_new(root, "peer_queue_full", json_integer((json_int_t)b->hwm_full));
	/* The journal: off, ok, or failing since its last commit failed, with
	 * the last error and the guarantee jobs refused for it. */
	json_object_set_new(root, "journal",
	                    json_string(!b->jadd      ? "off"
	                                : b->jfailing ? "failing"
	                                              : "ok"));
	json_object_set_new(root, "journal_error",
	                    b->jerror[0] ? json_string(b->jerror) : json_null());
	json_object_set_new(root, "not_stored", json_integer((json_int_t)b->not_stored));
	/* The bytes of all jobs held, and the limits (0: none). */
	json_object_set_new(root, "bytes", json_integer((json_int_t)b->nbytes));
	json_object_set_new(root, "max_bytes", json_integer((json_int_t)b->conf.max_bytes));
	json_object_set_new(root, "max_bytes_total",
	                    json_integer((json_int_t)b->conf.max_bytes_total));
	return dump(root);
}

char *
broker_workers_json(broker_t *b, uint64_t now_ms)
{
	json_t *root = json_object(), *workers = json_object(), *queues = json_object();
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;
	char buf[1024];

	dict_iter_init(b->workers, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bworker_t *w = v;
		json_t *o = json_object(), *ql = json_array();
		for (size_t i = 0; i < w->nqueues; i++)
			json_array_append_new(ql, json_pack("[Is]", (json_int_t)w->queues[i].weight,
			                                    w->queues[i].name));
		json_object_set_new(o, "available_slots", json_integer(w->slots));
		json_object_set_new(o, "hb", json_real((double)w->last_seen / 1000.0));
		/* EventMQ's hb is a monotonic clock reading, meaningless to a
		 * reader; hb_age says how long ago it was. */
		json_object_set_new(o, "hb_age",
		                    json_real((double)(now_ms - w->last_seen) / 1000.0));
		json_object_set_new(o, "queues", ql);
		json_object_set_new(workers, key_text(k, kl, buf, sizeof(buf)), o);
	}
	dict_iter_init(b->queues, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bqueue_t *q = v;
		json_t *l;
		char ib[1024];
		if (q->nworkers == 0)
			continue;
		l = json_array();
		for (size_t i = 0; i < q->nworkers; i++)
			json_array_append_new(
			    l, json_pack("[Is]", (json_int_t)q->workers[i].weight,
			                 key_text(q->workers[i].w->id, q->workers[i].w->idlen, ib,
			                          sizeof(ib))));
		json_object_set_new(queues, q->name, l);
	}
	json_object_set_new(root, "connected_workers", workers);
	json_object_set_new(root, "connected_queues", queues);
	return dump(root);
}

char *
broker_schedulers_json(broker_t *b, uint64_t now_ms)
{
	json_t *root = json_object(), *s = json_object();
	dict_iter_t it;
	const void *k;
	size_t kl;
	void *v;
	char buf[1024];

	dict_iter_init(b->schedulers, &it);
	while (dict_iter_next(&it, &k, &kl, &v)) {
		bsched_t *sc = v;
		json_t *o = json_object();
		json_object_set_new(o, "hb", json_real((double)sc->last_seen / 1000.0));
		json_object_set_new(o, "hb_age",
		                    json_real((double)(now_ms - sc->last_seen) / 1000.0));
		json_object_set_new(s, key_text(k, kl, buf, sizeof(buf)), o);
	}
	json_object_set_new(root, "connected_schedulers", s);
	return dump(root);
}
