/*
 * access.h: who may connect to the router, and as what.
 *
 * [router] curve_secret_key turns CURVE (curve.h) on for all three
 * endpoints. Sets of public keys then say who may connect where: the keys
 * of curve_clients and curve_schedulers to the frontend, curve_jobmanagers
 * to the backend, curve_admins to the admin endpoint; the ZAP handler asks
 * access_auth under the domains "frontend", "backend" and "admin". So a
 * client key can neither serve a queue nor stop the router.
 *
 * A connection's key comes with every message (the ZAP user id), and an
 * INFORM says what a peer will be: access_inform lets only a key of
 * curve_schedulers INFORM as a scheduler, and, when curve_exclusive is set,
 * only its keys serve an exclusive ("!") queue.
 *
 * Without curve_secret_key, access is off: anyone who can reach an endpoint
 * may do anything there (bind loopback, or an ipc:// path).
 */
#ifndef GEARHORN_ROUTER_ACCESS_H
#define GEARHORN_ROUTER_ACCESS_H

#include <stddef.h>

#include "conf.h"
#include "curve.h"
#include "proto.h"
#include "util.h"

typedef struct access access_t;

/* Reads the router's key and the sets of public keys that [router] names
 * (c is borrowed for the call). Returns the access (caller owns it; off
 * when curve_secret_key is empty), or NULL with EX_CONFIG and a message
 * naming the key and the file in e: a key file that cannot be read, a
 * secret key file that group or others may access, no CURVE in libzmq.
 * Logs a warning for each endpoint that no key may reach. */
access_t *access_new(const conf_t *c, gh_error_t *e);

/* Frees *self_p and clears it. Accepts NULL and a pointer to NULL. */
void access_destroy(access_t **self_p);

/* Whether CURVE is on. */
int access_on(const access_t *a);

/* The router's secret key (Z85), "" when off. Borrowed. */
const char *access_secret_key(const access_t *a);

/* The ZAP handler's sets, by domain ("frontend", "backend", "admin").
 * Borrowed, valid while a lives. */
const curve_auth_t *access_auth(const access_t *a);

/* Whether the peer with key user (the ZAP user id; NULL: none) may send
 * the decoded INFORM m (borrowed) on endpoint (BROKER_FRONTEND, ...).
 * Returns NULL when it may, after logging a refusal otherwise: the text of
 * the ERROR denied to answer with (in buf, buflen bytes). */
const char *access_inform(const access_t *a, int endpoint, const char *user, const proto_msg_t *m,
                          char *buf, size_t buflen);

#endif
