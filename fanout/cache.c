/*
 * cache.c: the per-topic subscriber cache (see cache.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "dict.h"
#include "util.h"

typedef struct {
	store_list_t list;
	int64_t filled_at;
} cache_entry_t;

struct cache {
	pthread_mutex_t lock;
	dict_t *topics; /* topic -> cache_entry_t */
	int64_t max_age;
	uint64_t gen;
};

static void
cache_entry_free(void *value)
{
	cache_entry_t *e = value;

	store_list_free(&e->list);
	free(e);
}

static void
cache_list_copy(store_list_t *dst, const store_list_t *src)
{
	size_t i;

	dst->n = src->n;
	dst->earliest_expiry = src->earliest_expiry;
	dst->items = gh_calloc(src->n ? src->n : 1, sizeof(*dst->items));
	for (i = 0; i < src->n; i++)
		dst->items[i] = gh_strdup(src->items[i]);
}

cache_t *
cache_new(int64_t max_age_s)
{
	cache_t *c = gh_calloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->topics = dict_new(cache_entry_free);
	c->max_age = max_age_s;
	return c;
}

void
cache_destroy(cache_t **self_p)
{
	cache_t *c;

	if (self_p == NULL || *self_p == NULL)
		return;
	c = *self_p;
	dict_destroy(&c->topics);
	pthread_mutex_destroy(&c->lock);
	free(c);
	*self_p = NULL;
}

int
cache_get(cache_t *c, const char *topic, int64_t now, store_list_t *out)
{
	cache_entry_t *e;
	int hit = 0;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	e = dict_get(c->topics, topic, strlen(topic));
	if (e != NULL) {
		if ((e->list.earliest_expiry != 0 && now >= e->list.earliest_expiry) ||
		    (c->max_age > 0 && now - e->filled_at >= c->max_age) || now < e->filled_at) {
			dict_del(c->topics, topic, strlen(topic));
		} else {
			cache_list_copy(out, &e->list);
			hit = 1;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

uint64_t
cache_generation(cache_t *c)
{
	uint64_t gen;

	pthread_mutex_lock(&c->lock);
	gen = c->gen;
	pthread_mutex_unlock(&c->lock);
	return gen;
}

void
cache_put(cache_t *c, const char *topic, const store_list_t *list, int64_t now, uint64_t gen)
{
	cache_entry_t *e = gh_calloc(1, sizeof(*e));

	cache_list_copy(&e->list, list);
	e->filled_at = now;
	pthread_mutex_lock(&c->lock);
	if (c->gen == gen) {
		dict_set(c->topics, topic, strlen(topic), e);
		e = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (e != NULL)
		cache_entry_free(e);
}

void
cache_drop(cache_t *c, const char *topic)
{
	pthread_mutex_lock(&c->lock);
	dict_del(c->topics, topic, strlen(topic));
	c->gen++;
	pthread_mutex_unlock(&c->lock);
}

void
cache_clear(cache_t *c)
{
	dict_iter_t it;
	const void *key;
	size_t klen;
	void *value;

	pthread_mutex_lock(&c->lock);
	dict_iter_init(c->topics, &it);
	while (dict_iter_next(&it, &key, &klen, &value))
		dict_iter_del(&it);
	c->gen++;
	pthread_mutex_unlock(&c->lock);
}

size_t
cache_size(cache_t *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = dict_size(c->topics);
	pthread_mutex_unlock(&c->lock);
	return n;
}
