/*
 * dict.c: chained hash table with SipHash-1-3 (see dict.h).
 */
#include "config.h"

#include "dict.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util.h"

typedef struct entry {
	struct entry *next;
	uint64_t hash;
	void *value;
	size_t klen;
	unsigned char key[]; /* klen bytes, then a NUL for convenience */
} entry_t;

struct dict {
	entry_t **buckets;
	size_t nbuckets; /* a power of two */
	size_t size;
	unsigned char seed[16];
	dict_free_fn *free_value;
};

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                   \
	do {                       \
		v0 += v1;          \
		v1 = ROTL(v1, 13); \
		v1 ^= v0;          \
		v0 = ROTL(v0, 32); \
		v2 += v3;          \
		v3 = ROTL(v3, 16); \
		v3 ^= v2;          \
		v0 += v3;          \
		v3 = ROTL(v3, 21); \
		v3 ^= v0;          \
		v2 += v1;          \
		v1 = ROTL(v1, 17); \
		v1 ^= v2;          \
		v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t
load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v; /* little-endian hosts; the value only needs to be stable per process */
}

unsigned long long
dict_siphash(const unsigned char key[16], const void *data, size_t len)
{
	const unsigned char *in = data, *end = in + (len & ~(size_t)7);
	uint64_t k0 = load64(key), k1 = load64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = (uint64_t)len << 56, m;
	size_t left = len & 7;

	for (; in != end; in += 8) {
		m = load64(in);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	switch (left) {
	case 7:
		b |= (uint64_t)in[6] << 48; /* fall through */
	case 6:
		b |= (uint64_t)in[5] << 40; /* fall through */
	case 5:
		b |= (uint64_t)in[4] << 32; /* fall through */
	case 4:
		b |= (uint64_t)in[3] << 24; /* fall through */
	case 3:
		b |= (uint64_t)in[2] << 16; /* fall through */
	case 2:
		b |= (uint64_t)in[1] << 8; /* fall through */
	case 1:
		b |= (uint64_t)in[0];
		break;
	default:
		break;
	}
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

dict_t *
dict_new(dict_free_fn *free_value)
{
	dict_t *d = gh_calloc(1, sizeof(*d));

	d->nbuckets = 16;
	d->buckets = gh_calloc(d->nbuckets, sizeof(*d->buckets));
	d->free_value = free_value;
	if (getrandom(d->seed, sizeof(d->seed), 0) != (ssize_t)sizeof(d->seed)) {
		uint64_t t = gh_now_us() ^ (uint64_t)(uintptr_t)d;
		memcpy(d->seed, &t, sizeof(t));
	}
	return d;
}

static void
free_entry(dict_t *d, entry_t *e)
{
	if (d->free_value != NULL && e->value != NULL)
		d->free_value(e->value);
	free(e);
}

void
dict_destroy(dict_t **self_p)
{
	dict_t *d;
	size_t i;

	if (self_p == NULL || (d = *self_p) == NULL)
		return;
	for (i = 0; i < d->nbuckets; i++) {
		entry_t *e = d->buckets[i];

		while (e != NULL) {
			entry_t *next = e->next;
			free_entry(d, e);
			e = next;
		}
	}
	free(d->buckets);
	free(d);
	*self_p = NULL;
}

static entry_t **
find(const dict_t *d, const void *key, size_t klen, uint64_t hash)
{
	entry_t **pp = &d->buckets[hash & (d->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->hash == hash && (*pp)->klen == klen &&
		    memcmp((*pp)->key, key, klen) == 0)
			return pp;
	return pp;
}

void *
dict_get(const dict_t *d, const void *key, size_t klen)
{
	entry_t **pp = find(d, key, klen, dict_siphash(d->seed, key, klen));

	return *pp != NULL ? (*pp)->value : NULL;
}

static void
grow(dict_t *d)
{
	size_t n = d->nbuckets * 2, i;
	entry_t **nb = gh_calloc(n, sizeof(*nb));

	for (i = 0; i < d->nbuckets; i++) {
		entry_t *e = d->buckets[i];

		while (e != NULL) {
			entry_t *next = e->next;
			size_t j = e->hash & (n - 1);

			e->next = nb[j];
			nb[j] = e;
			e = next;
		}
	}
	free(d->buckets);
	d->buckets = nb;
	d->nbuckets = n;
}

int
dict_set(dict_t *d, const void *key, size_t klen, void *value)
{
	uint64_t hash = dict_siphash(d->seed, key, klen);
	entry_t **pp = find(d, key, klen, hash);
	entry_t *e = *pp;

	if (e != NULL) {
		if (d->free_value != NULL && e->value != NULL && e->value != value)
			d->free_value(e->value);
		e->value = value;
		return 0;
	}
	e = gh_malloc(sizeof(*e) + klen + 1);
	e->next = NULL;
	e->hash = hash;
	e->value = value;
	e->klen = klen;
	memcpy(e->key, key, klen);
	e->key[klen] = '\0';
	*pp = e;
	if (++d->size > d->nbuckets)
		grow(d);
	return 1;
}

void *
dict_take(dict_t *d, const void *key, size_t klen)
{
	entry_t **pp = find(d, key, klen, dict_siphash(d->seed, key, klen));
	entry_t *e = *pp;
	void *value;

	if (e == NULL)
		return NULL;
	*pp = e->next;
	value = e->value;
	free(e);
	d->size--;
	return value;
}

int
dict_del(dict_t *d, const void *key, size_t klen)
{
	entry_t **pp = find(d, key, klen, dict_siphash(d->seed, key, klen));
	entry_t *e = *pp;

	if (e == NULL)
		return 0;
	*pp = e->next;
	free_entry(d, e);
	d->size--;
	return 1;
}

size_t
dict_size(const dict_t *d)
{
	return d->size;
}

void
dict_iter_init(dict_t *d, dict_iter_t *it)
{
	it->d = d;
	it->bucket = 0;
	it->cur = NULL;
	it->next = d->nbuckets > 0 ? d->buckets[0] : NULL;
}

int
dict_iter_next(dict_iter_t *it, const void **key, size_t *klen, void **value)
{
	entry_t *e = it->next;

	while (e == NULL) {
		if (++it->bucket >= it->d->nbuckets) {
			it->cur = NULL;
			return 0;
		}
		e = it->d->buckets[it->bucket];
	}
	it->cur = e;
	it->next = e->next;
	if (key != NULL)
		*key = e->key;
	if (klen != NULL)
		*klen = e->klen;
	if (value != NULL)
		*value = e->value;
	return 1;
}

void
dict_iter_del(dict_iter_t *it)
{
	entry_t *e = it->cur;

	if (e != NULL) {
		dict_del(it->d, e->key, e->klen);
		it->cur = NULL;
	}
}
