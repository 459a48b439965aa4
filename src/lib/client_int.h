/*
 * client_int.h: the part of the client (client.c) that libgearhorn does not
 * export, for gearhorn's own programs.
 */
#ifndef GEARHORN_CLIENT_INT_H
#define GEARHORN_CLIENT_INT_H

#include <stddef.h>

#include "gearhorn.h"

/* gearhorn_client_new_curve() with a ZeroMQ context of the caller's, so
 * that many clients of one process (one per thread) share its I/O thread.
 * ctx is borrowed and must outlive the client; keys (NULL: no CURVE) is
 * borrowed for the call. */
gearhorn_client_t *client_new_in(void *ctx, const char *endpoints, const gearhorn_curve_t *keys,
                                 char *err, size_t errlen);

/* The endpoint of the router c sends requests to first: the one that
 * acknowledged the last request. Borrowed, valid until c is destroyed. */
const char *client_current(const gearhorn_client_t *c);

/* gearhorn_admin_curve() that also stores in *answered (may be NULL; caller
 * owns it, NULL when no router answered) the endpoint of the router that
 * answered. */
int client_admin(const char *endpoints, const gearhorn_curve_t *keys, const char *command,
                 long wait_ms, char **reply, char **answered, char *err, size_t errlen);

#endif
