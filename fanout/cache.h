/*
 * cache.h: the per-topic subscriber cache of gearhorn-fanout.
 *
 * Maps a topic to a copy of its subscriber list (store_list_t), so that a
 * fanout does not touch the database. An entry is filled on the first
 * fanout of its topic, dropped when this process subscribes or
 * unsubscribes someone to that topic, and ignored once the earliest expiry
 * among its subscribers has passed or once it is older than max_age
 * seconds (the bound on how long a change made by another process sharing
 * the database can go unseen).
 *
 * One cache is shared by every worker thread of a process: every function
 * takes an internal mutex.
 */
#ifndef GEARHORN_FANOUT_CACHE_H
#define GEARHORN_FANOUT_CACHE_H

#include <stdint.h>

#include "store.h"

typedef struct cache cache_t;

/* max_age_s <= 0: entries never age out. Caller owns the result
 * (cache_destroy). */
cache_t *cache_new(int64_t max_age_s);

/* Frees every entry and *self_p, and sets it to NULL. Accepts NULL and a
 * pointer to NULL. */
void cache_destroy(cache_t **self_p);

/* If topic has a valid entry at time now, fills *out with a copy (caller
 * owns it: store_list_free) and returns 1; else returns 0 and leaves *out
 * empty. topic borrowed. */
int cache_get(cache_t *c, const char *topic, int64_t now, store_list_t *out);

/* Returns the current generation: a counter bumped by every cache_drop and
 * cache_clear. Read it before querying the store for a topic and pass it
 * to cache_put, so that a list read before a concurrent change is not
 * cached after it. */
uint64_t cache_generation(cache_t *c);

/* Stores a copy of list for topic as seen at time now, replacing any entry,
 * unless the generation is no longer gen (then does nothing). Both
 * borrowed. */
void cache_put(cache_t *c, const char *topic, const store_list_t *list, int64_t now, uint64_t gen);

/* Forgets topic. */
void cache_drop(cache_t *c, const char *topic);

/* Forgets every topic. */
void cache_clear(cache_t *c);

/* Number of entries (valid or not). */
size_t cache_size(cache_t *c);

#endif
