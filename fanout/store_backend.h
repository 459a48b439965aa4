/*
 * store_backend.h: the engines behind store.h, private to fanout/store*.c.
 *
 * store.c picks an engine by the database name store_open is given: a
 * PostgreSQL connection URI (postgresql:// or postgres://) goes to
 * store_pg.c, anything else is an SQLite file (store_sqlite.c). Each
 * engine's connection struct begins with a store_t, whose ops point to the
 * engine's table; store.c forwards every public call through it. The
 * functions mean what their namesakes in store.h say.
 */
#ifndef GEARHORN_FANOUT_STORE_BACKEND_H
#define GEARHORN_FANOUT_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

typedef struct store_ops store_ops_t;

struct store {
	const store_ops_t *ops;
};

struct store_ops {
	/* store_open (readonly 0) or store_open_readonly (readonly 1). */
	store_t *(*open)(const char *name, int readonly, char *err, size_t errlen);
	/* Frees s and everything it holds; s is not NULL. */
	void (*destroy)(store_t *s);
	int (*schema_version)(store_t *s);
	int (*subscribe)(store_t *s, const char *topic, const char *client, int64_t ttl_s,
	                 int64_t now, char *err, size_t errlen);
	int (*unsubscribe)(store_t *s, const char *topic, const char *client, char *err,
	                   size_t errlen);
	int (*subscribers)(store_t *s, const char *topic, int64_t now, store_list_t *out, char *err,
	                   size_t errlen);
	int (*topics)(store_t *s, int64_t now, store_list_t *out, char *err, size_t errlen);
	int (*subscriptions)(store_t *s, const char *topic, int64_t now, store_subs_t *out,
	                     char *err, size_t errlen);
	int (*client_topics)(store_t *s, const char *client, store_list_t *out, char *err,
	                     size_t errlen);
	int (*count)(store_t *s, int64_t now, int64_t *topics, int64_t *subscriptions, char *err,
	             size_t errlen);
	int (*purge_client)(store_t *s, const char *client, char *err, size_t errlen);
	int (*expire)(store_t *s, int64_t now, char *err, size_t errlen);
};

/* An engine's lookup for the function-name rule of store.h: returns 1 if
 * topic/client (borrowed) is a live subscription at now, 0 if not, -1 with
 * the reason in err. */
typedef int (*store_live_fn)(store_t *s, const char *topic, const char *client, int64_t now,
                             char *err, size_t errlen);

/* Whether another live subscription has the function name of topic/client
 * (borrowed), "<topic>_<client>": asks live about every other split of that
 * name at a '_' into two non-empty names. Returns STORE_TAKEN with the
 * reason in err, 0 if none, -1 with the reason in err. Called by the
 * engines inside the transaction that then subscribes. */
int store_taken(store_t *s, const char *topic, const char *client, int64_t now, store_live_fn live,
                char *err, size_t errlen);

extern const store_ops_t store_sqlite_ops; /* store_sqlite.c */
extern const store_ops_t store_pg_ops;     /* store_pg.c */

#endif
