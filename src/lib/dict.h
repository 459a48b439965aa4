/*
 * dict.h: a hash table from byte-string keys to pointers.
 *
 * Keys come from the network (peer identities, msgids, queue names), so the
 * hash is SipHash-1-3 with a random key per table: no input can force
 * collisions.
 */
#ifndef GEARHORN_DICT_H
#define GEARHORN_DICT_H

#include <stddef.h>

typedef struct dict dict_t;

/* Called on a value when the table drops it (dict_set replacing, dict_del,
 * dict_destroy). NULL: the table never frees values. */
typedef void(dict_free_fn)(void *value);

/* Caller owns the result. */
dict_t *dict_new(dict_free_fn *free_value);
/* Frees every key and, through free_value, every value. Accepts NULL and
 * clears *self_p. */
void dict_destroy(dict_t **self_p);

/* Borrowed, valid until the entry is replaced or removed; NULL if absent. */
void *dict_get(const dict_t *d, const void *key, size_t klen);
/* Copies the key; takes ownership of value. An existing value for the key is
 * freed. Returns 1 if the key is new, 0 if it replaced a value. */
int dict_set(dict_t *d, const void *key, size_t klen, void *value);
/* Removes the entry and returns its value, which the caller now owns (NULL if
 * absent). */
void *dict_take(dict_t *d, const void *key, size_t klen);
/* Removes the entry and frees its value. Returns 1 if it was there. */
int dict_del(dict_t *d, const void *key, size_t klen);
size_t dict_size(const dict_t *d);

/* Iteration: the table must not be changed while iterating, except by
 * dict_iter_del() on the current entry. */
typedef struct {
	dict_t *d;
	size_t bucket;
	void *cur, *next;
} dict_iter_t;
void dict_iter_init(dict_t *d, dict_iter_t *it);
/* Returns 1 and the next entry (borrowed key and value), or 0 at the end. */
int dict_iter_next(dict_iter_t *it, const void **key, size_t *klen, void **value);
/* Removes the entry last returned by dict_iter_next and frees its value. */
void dict_iter_del(dict_iter_t *it);

/* SipHash-1-3 of data under a 16-byte key. */
unsigned long long dict_siphash(const unsigned char key[16], const void *data, size_t len);

#endif
