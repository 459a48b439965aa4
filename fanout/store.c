/*
 * store.c: the subscriber database (see store.h): picks the engine by the
 * database name and forwards every call to it (store_backend.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_backend.h"
#include "util.h"

/* The engine for name: PostgreSQL for a connection URI, else SQLite. */
static const store_ops_t *
store_engine(const char *name)
{
	if (strncmp(name, "postgresql://", 13) == 0 || strncmp(name, "postgres://", 11) == 0)
		return &store_pg_ops;
	return &store_sqlite_ops;
}

store_t *
store_open(const char *path, char *err, size_t errlen)
{
	return store_engine(path)->open(path, 0, err, errlen);
}

store_t *
store_open_readonly(const char *path, char *err, size_t errlen)
{
	return store_engine(path)->open(path, 1, err, errlen);
}

void
store_destroy(store_t **self_p)
{
	if (self_p == NULL || *self_p == NULL)
		return;
	(*self_p)->ops->destroy(*self_p);
	*self_p = NULL;
}

int
store_schema_version(store_t *s)
{
	return s->ops->schema_version(s);
}

int
store_subscribe(store_t *s, const char *topic, const char *client, int64_t ttl_s, int64_t now,
                char *err, size_t errlen)
{
	return s->ops->subscribe(s, topic, client, ttl_s, now, err, errlen);
}

int
store_unsubscribe(store_t *s, const char *topic, const char *client, char *err, size_t errlen)
{
	return s->ops->unsubscribe(s, topic, client, err, errlen);
}

int
store_subscribers(store_t *s, const char *topic, int64_t now, store_list_t *out, char *err,
                  size_t errlen)
{
	return s->ops->subscribers(s, topic, now, out, err, errlen);
}

int
store_topics(store_t *s, int64_t now, store_list_t *out, char *err, size_t errlen)
{
	return s->ops->topics(s, now, out, err, errlen);
}

int
store_subscriptions(store_t *s, const char *topic, int64_t now, store_subs_t *out, char *err,
                    size_t errlen)
{
	return s->ops->subscriptions(s, topic, now, out, err, errlen);
}

int
store_client_topics(store_t *s, const char *client, store_list_t *out, char *err, size_t errlen)
{
	return s->ops->client_topics(s, client, out, err, errlen);
}

int
store_count(store_t *s, int64_t now, int64_t *topics, int64_t *subscriptions, char *err,
            size_t errlen)
{
	return s->ops->count(s, now, topics, subscriptions, err, errlen);
}

int
store_purge_client(store_t *s, const char *client, char *err, size_t errlen)
{
	return s->ops->purge_client(s, client, err, errlen);
}

int
store_expire(store_t *s, int64_t now, char *err, size_t errlen)
{
	return s->ops->expire(s, now, err, errlen);
}

int
store_taken(store_t *s, const char *topic, const char *client, int64_t now, store_live_fn live,
            char *err, size_t errlen)
{
	char *fn = gh_asprintf("%s_%s", topic, client);
	size_t len = strlen(fn), tlen = strlen(topic), p;
	int rc = 0;

	/* Neither name may be empty: the split is at 1 .. len - 2. */
	for (p = 1; p + 1 < len && rc == 0; p++) {
		char *other;

		if (fn[p] != '_' || p == tlen)
			continue;
		other = gh_strndup(fn, p);
		rc = live(s, other, fn + p + 1, now, err, errlen);
		if (rc > 0)
			gh_err(
			    err, errlen,
			    "topic_client_id %s already names the function of client_id \"%s\" on "
			    "topic \"%s\"",
			    fn, fn + p + 1, other);
		free(other);
	}
	free(fn);
	return rc > 0 ? STORE_TAKEN : rc;
}

void
store_list_free(store_list_t *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		free(list->items[i]);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

void
store_subs_free(store_subs_t *subs)
{
	size_t i;

	if (subs == NULL)
		return;
	for (i = 0; i < subs->n; i++) {
		free(subs->items[i].topic);
		free(subs->items[i].client);
	}
	free(subs->items);
	memset(subs, 0, sizeof(*subs));
}
