/*
 * map.h: what gearhorn-bridge(8) turns into what, with no I/O: the routes
 * of [bridge] to_gearman, to_zeromq and subscribe, and the payload mapping
 * between gearman's bytes and eMQP's JSON job bodies and results.
 *
 * Payload encoding. Arbitrary bytes P travel in JSON as enc(P): the string P
 * when P is valid UTF-8 without NUL, otherwise the object
 * {"base64": "<P in base64>"} (NUL is kept out of strings because many JSON
 * readers, jansson's by default among them, refuse \u0000). dec() reverses it; any other JSON value
 * decodes to its compact JSON text. dec(enc(P)) == P for every P.
 */
#ifndef GEARHORN_BRIDGE_MAP_H
#define GEARHORN_BRIDGE_MAP_H

#include <stddef.h>

#include <jansson.h>

#define BRIDGE_DEFAULT_WEIGHT 10

/* A to_gearman item: "[WEIGHT:]QUEUE[=FUNCTION]" (FUNCTION defaults to
 * QUEUE, WEIGHT to 10): jobs of the ZeroMQ queue become gearman jobs of the
 * function. */
typedef struct {
	long weight;
	char *queue;
	char *function;
} bridge_out_t;

/* A to_zeromq item "FUNCTION=QUEUE[@PATH:CALLABLE]" (or a subscribe item
 * "TOPIC=QUEUE[@PATH:CALLABLE]", whose function is TOPIC_SUBSCRIBER): jobs
 * of the gearman function become REQUESTs to the ZeroMQ queue. With a
 * handler (path and callable set) the workload is wrapped into a job for it;
 * without, the workload is the job body itself (raw). PATH may contain ':'
 * (EventMQ's "module:Class"); CALLABLE follows the last ':'. */
typedef struct {
	char *function;
	char *queue;
	char *path;     /* NULL: raw */
	char *callable; /* NULL: raw */
} bridge_in_t;

/* Parses a to_gearman item into out. Returns 0, or -1 with err. */
int bridge_parse_out(const char *item, bridge_out_t *out, char *err, size_t errlen);
void bridge_out_free(bridge_out_t *out);

/* Parses a to_zeromq item (subscriber NULL) or a subscribe item (the
 * function becomes TOPIC_SUBSCRIBER). Returns 0, or -1 with err. */
int bridge_parse_in(const char *item, const char *subscriber, bridge_in_t *in, char *err,
                    size_t errlen);
void bridge_in_free(bridge_in_t *in);

/* enc(): a new reference. */
json_t *bridge_encode(const char *data, size_t len);

/* dec(): the bytes of v into *out (NUL-terminated, caller frees), their
 * number in *outlen. Returns 0, or -1 with err for a "base64" object whose
 * text is not base64. */
int bridge_decode(const json_t *v, char **out, size_t *outlen, char *err, size_t errlen);

/* ZeroMQ to gearman: the gearman workload of an eMQP job body
 * ["run", {"args": [X], ...}] is dec(X); the body must have exactly one
 * argument (path, callable and kwargs are not used). Returns 0 with the
 * workload in *out (caller frees), or -1 with err (the job is bad). */
int bridge_unwrap(const char *body, size_t len, char **out, size_t *outlen, char *err,
                  size_t errlen);

/* ZeroMQ to gearman: the eMQP result of a gearman result R,
 * {"value": enc(R)}. Caller frees. */
char *bridge_result_to_json(const char *data, size_t len, size_t *outlen);

/* Gearman to ZeroMQ: the eMQP job body for workload W on route in: W itself
 * when the route is raw, else ["run", {"path": PATH, "callable": CALLABLE,
 * "args": [enc(W)], "kwargs": {}}]. Caller frees. */
char *bridge_wrap(const bridge_in_t *in, const char *data, size_t len, size_t *outlen);

/* Gearman to ZeroMQ: the gearman result of an eMQP result: the result
 * itself when the route is raw, else dec(value) of {"value": value}.
 * Returns 0 with *out (caller frees), or -1 with err. */
int bridge_result_from_json(const bridge_in_t *in, const char *json, size_t len, char **out,
                            size_t *outlen, char *err, size_t errlen);

#endif
