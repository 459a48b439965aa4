/*
 * access.c: who may connect to the router, and as what. See access.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "access.h"
#include "broker.h"
#include "log.h"

/* The sets of keys, each from its [router] key. */
enum { SET_CLIENTS, SET_SCHEDULERS, SET_JOBMANAGERS, SET_ADMINS, SET_EXCLUSIVE, SET_N };

static const char *const set_keys[SET_N] = {"curve_clients", "curve_schedulers",
                                            "curve_jobmanagers", "curve_admins", "curve_exclusive"};

struct access {
	int on;
	char secret_key[CURVE_KEY_LEN + 1];
	curve_keyring_t *set[SET_N];
	int exclusive; /* curve_exclusive names keys: only they serve "!" queues */
	curve_auth_t *auth;
};

/* Loads set i from its [router] key. Returns 0, or -1 with e. */
static int
load_set(access_t *a, const conf_t *c, int i, gh_error_t *e)
{
	size_t n;
	char **paths = conf_get_list(c, "router", set_keys[i], &n), err[900];
	int rc = curve_keyring_load(a->set[i], paths, n, err, sizeof(err));

	conf_list_free(paths, n);
	if (i == SET_EXCLUSIVE)
		a->exclusive = n > 0;
	if (rc != 0)
		return gh_error_set(e, EX_CONFIG, "[router] %s: %s", set_keys[i], err);
	return 0;
}

access_t *
access_new(const conf_t *c, gh_error_t *e)
{
	static const char *const domains[] = {"frontend", "backend", "admin"};
	const char *path = conf_get(c, "router", "curve_secret_key");
	access_t *a = gh_calloc(1, sizeof(*a));
	char pub[CURVE_KEY_LEN + 1], err[900];

	a->auth = curve_auth_new();
	for (int i = 0; i < SET_N; i++)
		a->set[i] = curve_keyring_new();
	if (path[0] == '\0')
		return a;
	if (!curve_available()) {
		gh_error_set(e, EX_CONFIG,
		             "[router] curve_secret_key: this libzmq has no CURVE (built "
		             "without libsodium)");
		goto fail;
	}
	if (curve_load_secret(path, pub, a->secret_key, err, sizeof(err)) != 0) {
		gh_error_set(e, EX_CONFIG, "[router] curve_secret_key: %s", err);
		goto fail;
	}
	for (int i = 0; i < SET_N; i++)
		if (load_set(a, c, i, e) != 0)
			goto fail;
	a->on = 1;
	curve_auth_allow(a->auth, domains[BROKER_FRONTEND], a->set[SET_CLIENTS]);
	curve_auth_allow(a->auth, domains[BROKER_FRONTEND], a->set[SET_SCHEDULERS]);
	curve_auth_allow(a->auth, domains[BROKER_BACKEND], a->set[SET_JOBMANAGERS]);
	curve_auth_allow(a->auth, domains[BROKER_ADMIN], a->set[SET_ADMINS]);
	log_info("CURVE on: public key %s; %zu client, %zu scheduler, %zu job manager and %zu "
	         "admin key(s)",
	         pub, curve_keyring_size(a->set[SET_CLIENTS]),
	         curve_keyring_size(a->set[SET_SCHEDULERS]),
	         curve_keyring_size(a->set[SET_JOBMANAGERS]),
	         curve_keyring_size(a->set[SET_ADMINS]));
	if (curve_keyring_size(a->set[SET_CLIENTS]) + curve_keyring_size(a->set[SET_SCHEDULERS]) ==
	    0)
		log_warn("CURVE: no key may connect to the frontend");
	if (curve_keyring_size(a->set[SET_JOBMANAGERS]) == 0)
		log_warn("CURVE: no key may connect to the backend");
	if (curve_keyring_size(a->set[SET_ADMINS]) == 0)
		log_warn("CURVE: no key may connect to the admin endpoint");
	return a;
fail:
	access_destroy(&a);
	return NULL;
}

void
access_destroy(access_t **self_p)
{
	access_t *a;

	if (self_p == NULL || (a = *self_p) == NULL)
		return;
	curve_auth_destroy(&a->auth);
	for (int i = 0; i < SET_N; i++)
		curve_keyring_destroy(&a->set[i]);
	explicit_bzero(a->secret_key, sizeof(a->secret_key));
	free(a);
	*self_p = NULL;
}

int
access_on(const access_t *a)
{
	return a != NULL && a->on;
}

const char *
access_secret_key(const access_t *a)
{
	return a->secret_key;
}

const curve_auth_t *
access_auth(const access_t *a)
{
	return a->auth;
}

/* The refusal of m from user: logged, and its text in buf. */
static const char *
refuse(const char *user, const char *role, char *buf, size_t buflen, const char *text)
{
	log_notice("key %s (%s) denied: %s", user != NULL ? user : "(none)", role, text);
	gh_strlcpy(buf, text, buflen);
	return buf;
}

/* The first exclusive queue in m's list, or NULL; names are borrowed from
 * qs. */
static const char *
exclusive_queue(const proto_msg_t *m, proto_queue_t *qs, size_t cap)
{
	proto_err_t err;
	size_t n = 0;

	/* A list that does not parse is the broker's to refuse. */
	if (proto_parse_queues(m->queues, qs, cap, &n, &err) != 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strchr(qs[i].name, '!') != NULL)
			return qs[i].name;
	return NULL;
}

const char *
access_inform(const access_t *a, int endpoint, const char *user, const proto_msg_t *m, char *buf,
              size_t buflen)
{
	proto_queue_t qs[PROTO_MAX_INFORM_QUEUES];
	const char *q;
	char text[PROTO_MAX_QUEUE * 4 + 128], esc[PROTO_MAX_QUEUE * 4 + 8];

	if (!access_on(a))
		return NULL;
	if (endpoint == BROKER_FRONTEND && gh_frame_is(m->peer_type, "scheduler") &&
	    (user == NULL || curve_keyring_find(a->set[SET_SCHEDULERS], user) == NULL))
		return refuse(user, "frontend", buf, buflen,
		              "INFORM: this key may not act as a scheduler");
	if (endpoint == BROKER_BACKEND && a->exclusive &&
	    (q = exclusive_queue(m, qs, GH_ARRAY_LEN(qs))) != NULL &&
	    (user == NULL || curve_keyring_find(a->set[SET_EXCLUSIVE], user) == NULL)) {
		snprintf(text, sizeof(text),
		         "INFORM: this key may not serve exclusive queue \"%s\"",
		         log_escape(q, strlen(q), esc, sizeof(esc)));
		return refuse(user, "backend", buf, buflen, text);
	}
	return NULL;
}
