/*
 * conf.c: schema, layered values, INI and environment loading.
 */
#include "config.h"

#include "conf.h"
#include "log.h"
#include "util.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#ifdef GH_DEFAULT_CONFIG
#define CONF_DEFAULT_PATH GH_DEFAULT_CONFIG
#else
#define CONF_DEFAULT_PATH "/etc/gearhorn.conf"
#endif

/* Bigger files are refused: a configuration is a few kilobytes. */
#define CONF_FILE_MAX (1024 * 1024)
/* Longest piece of an untrusted value quoted in a message. */
#define CONF_QUOTE_MAX   80
#define CONF_SERVER_PORT 4730
#define CONF_ENV_PREFIX  "GEARHORN_"

typedef enum {
	CONF_STRING,
	CONF_INT,
	CONF_BOOL,
	CONF_ENUM,
	CONF_LIST,
	CONF_ENDPOINT,
	CONF_ENDPOINT_LIST,
	CONF_SERVERS
} conf_type_t;

typedef struct {
	conf_key_info_t info; /* first, so that conf_key_at can return it */
	conf_type_t type;
	long min, max;       /* CONF_INT */
	const char *choices; /* CONF_ENUM: "a|b|c" */
} conf_schema_t;

/* Index 0 is [global]; the others are program sections. */
static const char *const conf_sections[] = {"global", "router", "jobmanager", "scheduler",
                                            "fanout", "bridge", "cli"};
#define CONF_GLOBAL    0
#define CONF_NSECTIONS GH_ARRAY_LEN(conf_sections)

#define K_STRING(sec, key, def, help)                                    \
	{                                                                \
		{sec, key, "string", def, help}, CONF_STRING, 0, 0, NULL \
	}
#define K_INT(sec, key, def, lo, hi, help)                                             \
	{                                                                              \
		{sec, key, "integer " #lo ".." #hi, def, help}, CONF_INT, lo, hi, NULL \
	}
#define K_BOOL(sec, key, def, help)                                     \
	{                                                               \
		{sec, key, "boolean", def, help}, CONF_BOOL, 0, 0, NULL \
	}
#define K_ENUM(sec, key, def, choices, help)                                     \
	{                                                                        \
		{sec, key, "enum " choices, def, help}, CONF_ENUM, 0, 0, choices \
	}
#define K_LIST(sec, key, def, help)                                  \
	{                                                            \
		{sec, key, "list", def, help}, CONF_LIST, 0, 0, NULL \
	}
#define K_ENDPOINT(sec, key, def, help)                                      \
	{                                                                    \
		{sec, key, "endpoint", def, help}, CONF_ENDPOINT, 0, 0, NULL \
	}
#define K_ENDPOINTS(sec, key, def, help)                                               \
	{                                                                              \
		{sec, key, "endpoint list", def, help}, CONF_ENDPOINT_LIST, 0, 0, NULL \
	}
#define K_SERVERS(sec, key, def, help)                                         \
	{                                                                      \
		{sec, key, "server list", def, help}, CONF_SERVERS, 0, 0, NULL \
	}

/* The CURVE keys of a program that connects to a router (startup_curve):
 * two rows. */
#define K_CURVE_CLIENT(sec)                                                                      \
	K_STRING(sec, "curve_secret_key", "", "our secret key file for CURVE; empty: no CURVE"), \
	    K_STRING(sec, "curve_server_key", "",                                                \
	             "the router's public key file, with curve_secret_key")

/*
 * Every key. To add one, add a row (gearhorn.conf(5) documents each row);
 * conf_new() asserts that every default passes its own check. A key in a
 * program section must not reuse the name of a [global] key.
 */
static const conf_schema_t conf_schema[] = {
    K_ENUM("global", "log_level", "info", "error|warn|notice|info|debug",
           "most verbose level of messages that are logged"),
    K_ENUM("global", "log_target", "stderr", "stderr|syslog",
           "where messages go: standard error or syslog (facility daemon)"),
    K_STRING("global", "state_dir", "/var/lib/gearhorn", "directory for databases and journals"),
    K_SERVERS("global", "gearman_servers", "127.0.0.1:4730", "gearman job servers to use"),
    K_INT("global", "heartbeat_interval", "3", 1, 3600, "seconds between heartbeats"),
    K_INT("global", "heartbeat_timeout", "5", 1, 86400,
          "seconds without a heartbeat before a peer is considered dead"),

    K_ENDPOINT("router", "frontend", "tcp://127.0.0.1:47291",
               "endpoint the router binds for clients and schedulers"),
    K_ENDPOINT("router", "backend", "tcp://127.0.0.1:47290",
               "endpoint the router binds for job managers"),
    K_ENDPOINT("router", "admin", "tcp://127.0.0.1:47293",
               "endpoint the router binds for administration"),
    K_INT("router", "max_length", "10000", 1, 100000000,
          "most jobs waiting in one queue; more are refused with an error"),
    K_INT("router", "max_waiting", "0", 0, 1000000000,
          "most jobs waiting in all queues together; 0 means 10 x max_length"),
    K_INT("router", "max_bytes", "0", 0, 1125899906842624,
          "most bytes of jobs held for one queue; 0 means max_bytes_total / 10"),
    K_INT("router", "max_bytes_total", "0", 0, 1125899906842624,
          "most bytes of jobs held in all queues; 0 means a quarter of the memory"),
    K_INT("router", "max_message_size", "1048576", 256, 268435456,
          "largest message accepted, in bytes"),
    K_BOOL("router", "journal", "false", "keep accepted guarantee jobs in a journal"),
    K_STRING("router", "journal_path", "",
             "journal database; empty means <state_dir>/router-journal.db"),
    K_ENUM("router", "journal_sync", "normal", "normal|full",
           "when a journaled job is acknowledged: normal once it survives a crash of the "
           "router, full once it survives a power loss"),
    K_BOOL("router", "journal_recover", "false",
           "start on the jobs that can be read from a damaged journal, keeping it aside"),
    K_STRING("router", "default_queue", "default", "queue used where a peer names none"),
    K_STRING("router", "curve_secret_key", "",
             "the router's secret key file; set, every endpoint takes only CURVE"),
    K_LIST("router", "curve_clients", "",
           "public key files or directories of the clients allowed on the frontend"),
    K_LIST("router", "curve_schedulers", "",
           "public keys of the schedulers (frontend, and INFORM as a scheduler)"),
    K_LIST("router", "curve_jobmanagers", "",
           "public keys of the job managers allowed on the backend"),
    K_LIST("router", "curve_admins", "", "public keys allowed on the admin endpoint"),
    K_LIST("router", "curve_exclusive", "",
           "job manager keys that may serve exclusive (!) queues; empty: any of them"),
    K_STRING("router", "admin_group", "",
             "group of an ipc:// admin socket, then mode 0660; empty: mode 0600"),

    K_ENDPOINTS("jobmanager", "router", "tcp://127.0.0.1:47290",
                "router backend endpoints to connect to"),
    K_STRING("jobmanager", "queues", "[[10,\"default\"]]",
             "queues to serve with their weights, as JSON [[weight,\"name\"],...]"),
    K_INT("jobmanager", "concurrent_jobs", "4", 1, 1024, "worker processes, one job each"),
    K_INT("jobmanager", "prefetch", "0", 0, 4096,
          "jobs taken from the router beyond the worker processes, to wait here"),
    K_INT("jobmanager", "max_job_count", "1024", 0, 100000000,
          "jobs a worker runs before it is replaced; 0 means never"),
    K_INT("jobmanager", "timeout", "300", 0, 604800,
          "seconds a job may run if its request sets no timeout; 0: no limit"),
    K_INT("jobmanager", "kill_grace_period", "30", 0, 3600,
          "seconds between SIGTERM and SIGKILL for a worker that must stop"),
    K_LIST("jobmanager", "handler_dirs", "", "directories searched for handler modules"),
    K_LIST("jobmanager", "programs", "", "programs that jobs may run, by name"),
    K_CURVE_CLIENT("jobmanager"),

    K_ENDPOINTS("scheduler", "router", "tcp://127.0.0.1:47291",
                "router frontend endpoints to connect to"),
    K_STRING("scheduler", "database", "", "schedule database; empty: a file in state_dir"),
    K_CURVE_CLIENT("scheduler"),

    K_STRING("fanout", "database", "", "subscriber database; empty: a file in state_dir"),
    K_INT("fanout", "threads", "8", 1, 256, "worker threads, each with its own connections"),
    K_INT("fanout", "foreground_timeout", "30", 1, 86400,
          "seconds a foreground fanout waits for its copies"),
    K_INT("fanout", "matchmaking_ttl", "60", 5, 86400,
          "seconds a fanout worker's own matchmaking subscription lives"),
    K_INT("fanout", "subscription_ttl", "0", 0, 31536000,
          "default lifetime of a subscription in seconds; 0 means forever"),

    K_ENDPOINTS("bridge", "router_backend", "tcp://127.0.0.1:47290",
                "router backend endpoints, for ZeroMQ to gearman"),
    K_ENDPOINTS("bridge", "router_frontend", "tcp://127.0.0.1:47291",
                "router frontend endpoints, for gearman to ZeroMQ"),
    K_LIST("bridge", "to_gearman", "", "ZeroMQ queues the bridge serves, passed on to gearman"),
    K_LIST("bridge", "to_zeromq", "",
           "gearman functions the bridge registers, passed on to ZeroMQ"),
    K_INT("bridge", "max_in_flight", "16", 1, 1024,
          "most jobs in flight in each direction (a thread each)"),
    K_INT("bridge", "timeout", "300", 0, 604800,
          "seconds a bridged job may take if its request sets none; 0: no limit"),
    K_BOOL("bridge", "guarantee", "false", "send jobs from gearman to ZeroMQ with guarantee"),
    K_LIST("bridge", "subscribe", "",
           "fanout topics whose copies the bridge passes to ZeroMQ queues"),
    K_STRING("bridge", "subscriber", "gearhorn-bridge",
             "the bridge's subscriber name (client_id) for subscribe"),
    K_CURVE_CLIENT("bridge"),

    K_STRING("cli", "router", "",
             "router frontend endpoints for the client commands, tried in order; "
             "empty: [router] frontend"),
    K_STRING("cli", "admin", "",
             "router admin endpoints, the first that answers is asked; empty: [router] admin"),
    K_CURVE_CLIENT("cli"),
};
#define CONF_NKEYS GH_ARRAY_LEN(conf_schema)

typedef struct {
	char *value;  /* NULL: not set in this section */
	char *origin; /* set together with value */
} conf_slot_t;

struct conf {
	/* slots[s][k]: key k set in section s. Used only where the key is
	 * valid: its own section, and every program section for [global] keys. */
	conf_slot_t slots[CONF_NSECTIONS][CONF_NKEYS];
	char *file;
};

static int conf_check_value(const conf_schema_t *e, const char *value, char **norm, char *msg,
                            size_t msglen);

/* ---- schema lookup ---- */

static int
conf_section_index(const char *section)
{
	size_t i;

	for (i = 0; section != NULL && i < CONF_NSECTIONS; i++)
		if (strcmp(section, conf_sections[i]) == 0)
			return (int)i;
	return -1;
}

static int
conf_is_global(const conf_schema_t *e)
{
	return strcmp(e->info.section, conf_sections[CONF_GLOBAL]) == 0;
}

/* Returns the schema index of key as seen from section s, or -1. */
static int
conf_key_index(int s, const char *key)
{
	size_t k;

	for (k = 0; key != NULL && k < CONF_NKEYS; k++) {
		const conf_schema_t *e = &conf_schema[k];
		if (strcmp(e->info.key, key) != 0)
			continue;
		if (strcmp(e->info.section, conf_sections[s]) == 0 || conf_is_global(e))
			return (int)k;
	}
	return -1;
}

/* Looks up a key given by our own code: unknown names are a bug. */
static void
conf_lookup(const char *section, const char *key, int *s, int *k)
{
	*s = conf_section_index(section);
	assert(*s >= 0 && "unknown configuration section");
	*k = conf_key_index(*s, key);
	assert(*k >= 0 && "unknown configuration key");
}

/* The slot that gives [s] k its value, or NULL for the default. */
static const conf_slot_t *
conf_effective(const conf_t *c, int s, int k)
{
	if (c->slots[s][k].value != NULL)
		return &c->slots[s][k];
	if (s != CONF_GLOBAL && c->slots[CONF_GLOBAL][k].value != NULL)
		return &c->slots[CONF_GLOBAL][k];
	return NULL;
}

const conf_key_info_t *
conf_key_at(size_t i)
{
	return i < CONF_NKEYS ? &conf_schema[i].info : NULL;
}

const char *
conf_default_path(void)
{
	return CONF_DEFAULT_PATH;
}

int
conf_key_valid(const char *section, const char *key)
{
	int s = conf_section_index(section);

	return s >= 0 && conf_key_index(s, key) >= 0;
}

/* ---- construction ---- */

conf_t *
conf_new(void)
{
	conf_t *c = gh_calloc(1, sizeof(*c));

#ifndef NDEBUG
	size_t k, j;
	char msg[256];
	char *norm;

	for (k = 0; k < CONF_NKEYS; k++) {
		const conf_schema_t *e = &conf_schema[k];
		assert(conf_section_index(e->info.section) >= 0);
		assert(conf_check_value(e, e->info.def, &norm, msg, sizeof(msg)) == 0);
		free(norm);
		for (j = 0; j < k; j++)
			assert(strcmp(conf_schema[j].info.key, e->info.key) != 0 ||
			       (strcmp(conf_schema[j].info.section, e->info.section) != 0 &&
			        !conf_is_global(e) && !conf_is_global(&conf_schema[j])));
	}
#endif
	return c;
}

void
conf_destroy(conf_t **self_p)
{
	conf_t *c;
	size_t s, k;

	if (self_p == NULL || *self_p == NULL)
		return;
	c = *self_p;
	for (s = 0; s < CONF_NSECTIONS; s++) {
		for (k = 0; k < CONF_NKEYS; k++) {
			free(c->slots[s][k].value);
			free(c->slots[s][k].origin);
		}
	}
	free(c->file);
	free(c);
	*self_p = NULL;
}

const char *
conf_file(const conf_t *c)
{
	return c->file;
}

/* ---- messages ---- */

/* Quotes an untrusted string for a message, cut to CONF_QUOTE_MAX. */
static const char *
conf_quote(const char *s, char buf[CONF_QUOTE_MAX])
{
	return log_escape(s, strlen(s), buf, CONF_QUOTE_MAX);
}

/* Escapes a whole untrusted string (a file or variable name). Caller owns. */
static char *
conf_escape_dup(const char *s, size_t len)
{
	size_t size = len * 4 + 4;
	char *buf = gh_malloc(size);

	log_escape(s, len, buf, size);
	return buf;
}

/* Levenshtein distance, for "did you mean" hints; short strings only. */
static size_t
conf_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[65];

	if (la > 64 || lb > 64)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0], up;
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = diag + (a[i - 1] != b[j - 1]);
			up = row[j];
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* Writes a hint for an unknown section name into hint ("" if none). */
static void
conf_section_hint(const char *section, char *hint, size_t hintlen)
{
	size_t i;

	hint[0] = '\0';
	for (i = 0; i < CONF_NSECTIONS; i++) {
		if (strcasecmp(section, conf_sections[i]) == 0 ||
		    conf_distance(section, conf_sections[i]) <= 2) {
			snprintf(hint, hintlen, " (did you mean [%s]?)", conf_sections[i]);
			return;
		}
	}
}

/* Writes a hint for a key unknown in section s into hint ("" if none). */
static void
conf_key_hint(int s, const char *key, char *hint, size_t hintlen)
{
	size_t k, best = 3;

	hint[0] = '\0';
	for (k = 0; k < CONF_NKEYS; k++) {
		if (strcmp(conf_schema[k].info.key, key) == 0) {
			snprintf(hint, hintlen, " (it belongs in [%s])",
			         conf_schema[k].info.section);
			return;
		}
	}
	for (k = 0; k < CONF_NKEYS; k++) {
		const conf_schema_t *e = &conf_schema[k];
		size_t d;
		if (conf_key_index(s, e->info.key) != (int)k)
			continue;
		d = conf_distance(key, e->info.key);
		if (d < best) {
			best = d;
			snprintf(hint, hintlen, " (did you mean \"%s\"?)", e->info.key);
		}
	}
}

/* ---- value checks ---- */

static int
conf_is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static int
conf_is_sep(char ch)
{
	return ch == ',' || conf_is_space(ch);
}

static int
conf_is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* Lower-cases ASCII letters in place. */
static void
conf_lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int
conf_all_digits(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Checks [p, p+len) as a port 1..65535. */
static int
conf_check_port(const char *p, size_t len, int *port)
{
	long v = 0;
	size_t i;

	if (!conf_all_digits(p, len) || len > 5)
		return -1;
	for (i = 0; i < len; i++)
		v = v * 10 + (p[i] - '0');
	if (v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* Checks a host: a DNS name, an IPv4 address, "[IPv6]" (with an optional
 * %zone) or, if allow_star, "*". Returns NULL or the reason. */
static const char *
conf_check_host(const char *h, size_t len, int allow_star)
{
	char addr[INET6_ADDRSTRLEN + 64];
	unsigned char bin[16];
	size_t i;
	int numeric;

	if (len == 0)
		return "missing host";
	if (len == 1 && h[0] == '*')
		return allow_star ? NULL : "\"*\" is not a host here";
	if (h[0] == '[') {
		const char *zone;
		if (len < 3 || h[len - 1] != ']' || len - 2 >= sizeof(addr))
			return "bad IPv6 address";
		memcpy(addr, h + 1, len - 2);
		addr[len - 2] = '\0';
		zone = strchr(addr, '%');
		if (zone != NULL) {
			if (zone[1] == '\0')
				return "empty IPv6 zone";
			for (i = 1; zone[i] != '\0'; i++)
				if (!conf_is_alnum(zone[i]) && strchr("._-", zone[i]) == NULL)
					return "bad IPv6 zone";
			addr[zone - addr] = '\0';
		}
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return "bad IPv6 address";
		return NULL;
	}
	if (len > 253)
		return "host name too long";
	for (i = 0, numeric = 1; i < len; i++) {
		char ch = h[i];
		if (!conf_is_alnum(ch) && ch != '.' && ch != '-' && ch != '_')
			return "bad character in host name";
		if (ch == '.' && (i == 0 || h[i - 1] == '.'))
			return "empty label in host name";
		if (ch != '.' && (ch < '0' || ch > '9'))
			numeric = 0;
	}
	if (h[0] == '-')
		return "host name begins with \"-\"";
	if (numeric) {
		if (len >= sizeof(addr))
			return "bad IPv4 address";
		memcpy(addr, h, len);
		addr[len] = '\0';
		if (inet_pton(AF_INET, addr, bin) != 1)
			return "bad IPv4 address";
	}
	return NULL;
}

/* Splits [s, s+len) as HOST[:PORT]. Sets *hlen to the host's length and
 * *port to its port, or to 0 if there is none. Returns NULL or the reason. */
static const char *
conf_split_host_port(const char *s, size_t len, int allow_star, size_t *hlen, int *port)
{
	const char *colon, *why;

	*port = 0;
	if (len > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', len);
		if (rb == NULL)
			return "missing \"]\" after IPv6 address";
		*hlen = (size_t)(rb + 1 - s);
		colon = rb + 1 < s + len ? rb + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return "unexpected text after \"]\"";
	} else {
		colon = memchr(s, ':', len);
		if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) != NULL)
			return "an IPv6 address must be written in brackets, as [ADDRESS]:PORT";
		*hlen = colon != NULL ? (size_t)(colon - s) : len;
	}
	why = conf_check_host(s, *hlen, allow_star);
	if (why != NULL)
		return why;
	if (colon != NULL && conf_check_port(colon + 1, len - (size_t)(colon + 1 - s), port) < 0)
		return "port must be a number from 1 to 65535";
	return NULL;
}

/* Checks one endpoint [s, s+len). Returns NULL or the reason. */
static const char *
conf_endpoint_reason(const char *s, size_t len)
{
	size_t hlen, i;
	int port;
	const char *why;

	for (i = 0; i < len; i++)
		if (conf_is_sep(s[i]))
			return "white space or comma in endpoint";
	if (len > 6 && strncmp(s, "tcp://", 6) == 0) {
		why = conf_split_host_port(s + 6, len - 6, 1, &hlen, &port);
		if (why != NULL)
			return why;
		if (port == 0)
			return "missing port (tcp://HOST:PORT)";
		return NULL;
	}
	if (len >= 6 && strncmp(s, "ipc://", 6) == 0) {
		if (len == 6)
			return "missing path (ipc://PATH)";
		/* sun_path holds 108 bytes with the terminating NUL. */
		if (len - 6 > 107)
			return "path longer than 107 bytes";
		return NULL;
	}
	if (len >= 9 && strncmp(s, "inproc://", 9) == 0) {
		if (len == 9)
			return "missing name (inproc://NAME)";
		return NULL;
	}
	if (len == 6 && strncmp(s, "tcp://", 6) == 0)
		return "missing host and port (tcp://HOST:PORT)";
	return "expected tcp://HOST:PORT, ipc://PATH or inproc://NAME";
}

int
conf_check_endpoint(const char *endpoint, char *err, size_t errlen)
{
	char q[CONF_QUOTE_MAX];
	const char *why = conf_endpoint_reason(endpoint, strlen(endpoint));

	if (why == NULL)
		return 0;
	return gh_err(err, errlen, "bad endpoint \"%s\": %s", conf_quote(endpoint, q), why);
}

int
conf_parse_server(const char *server, char *host, size_t hostlen, int *port, char *err,
                  size_t errlen)
{
	char q[CONF_QUOTE_MAX];
	size_t len = strlen(server), hlen, i;
	const char *why;
	const char *h = server;

	for (i = 0; i < len; i++)
		if (conf_is_sep(server[i]))
			return gh_err(err, errlen,
			              "bad server \"%s\": white space or comma in server",
			              conf_quote(server, q));
	if (strstr(server, "://") != NULL)
		return gh_err(err, errlen, "bad server \"%s\": not a URL (expected HOST[:PORT])",
		              conf_quote(server, q));
	why = conf_split_host_port(server, len, 0, &hlen, port);
	if (why != NULL)
		return gh_err(err, errlen, "bad server \"%s\": %s", conf_quote(server, q), why);
	if (*port == 0)
		*port = CONF_SERVER_PORT;
	if (h[0] == '[') {
		h++;
		hlen -= 2;
	}
	if (hlen >= hostlen)
		return gh_err(err, errlen, "bad server \"%s\": host too long",
		              conf_quote(server, q));
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}

/* Calls check on every item of a list value; stops at the first error. */
static int
conf_check_items(const char *value, const char *what, int (*check)(const char *, char *, size_t),
                 char *msg, size_t msglen)
{
	const char *p = value;
	size_t count = 0;

	while (*p != '\0') {
		size_t len;
		char *item;
		int rc;

		while (conf_is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		for (len = 0; p[len] != '\0' && !conf_is_sep(p[len]); len++)
			;
		item = gh_strndup(p, len);
		rc = check(item, msg, msglen);
		free(item);
		if (rc < 0)
			return -1;
		count++;
		p += len;
	}
	if (count == 0)
		return gh_err(msg, msglen, "expected at least one %s", what);
	return 0;
}

static int
conf_check_server_item(const char *item, char *msg, size_t msglen)
{
	char host[256];
	int port;

	return conf_parse_server(item, host, sizeof(host), &port, msg, msglen);
}

static int
conf_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Finds value among the '|'-separated choices, ignoring case. Returns the
 * canonical spelling (caller owns) or NULL. */
static char *
conf_match_choice(const char *choices, const char *value)
{
	const char *p = choices;
	size_t vlen = strlen(value);

	for (;;) {
		const char *bar = strchr(p, '|');
		size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
		if (len == vlen && strncasecmp(p, value, len) == 0)
			return gh_strndup(p, len);
		if (bar == NULL)
			return NULL;
		p = bar + 1;
	}
}

/* Checks a trimmed value against e. Returns 0 and the canonical value in
 * *norm (caller owns), or -1 with the reason in msg. */
static int
conf_check_value(const conf_schema_t *e, const char *value, char **norm, char *msg, size_t msglen)
{
	char q[CONF_QUOTE_MAX];
	const char *p, *why;
	long n;
	int b;

	*norm = NULL;
	for (p = value; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return gh_err(msg, msglen, "control character in value \"%s\"",
			              conf_quote(value, q));
		if (ch == ';' && p > value && (p[-1] == ' ' || p[-1] == '\t'))
			return gh_err(msg, msglen,
			              "\";\" after white space would begin a comment in \"%s\"",
			              conf_quote(value, q));
	}

	switch (e->type) {
	case CONF_STRING:
	case CONF_LIST:
		break;
	case CONF_INT:
		if (gh_parse_long(value, e->min, e->max, &n) < 0)
			return gh_err(msg, msglen,
			              "expected an integer from %ld to %ld, got \"%s\"", e->min,
			              e->max, conf_quote(value, q));
		*norm = gh_asprintf("%ld", n);
		return 0;
	case CONF_BOOL:
		if (conf_parse_bool(value, &b) < 0)
			return gh_err(msg, msglen,
			              "expected true, false, yes, no, on, off, 1 or 0, got \"%s\"",
			              conf_quote(value, q));
		*norm = gh_strdup(b ? "true" : "false");
		return 0;
	case CONF_ENUM:
		*norm = conf_match_choice(e->choices, value);
		if (*norm == NULL)
			return gh_err(msg, msglen, "expected one of %s, got \"%s\"", e->choices,
			              conf_quote(value, q));
		return 0;
	case CONF_ENDPOINT:
		why = conf_endpoint_reason(value, strlen(value));
		if (why != NULL)
			return gh_err(msg, msglen, "bad endpoint \"%s\": %s", conf_quote(value, q),
			              why);
		break;
	case CONF_ENDPOINT_LIST:
		if (conf_check_items(value, "endpoint", conf_check_endpoint, msg, msglen) < 0)
			return -1;
		break;
	case CONF_SERVERS:
		if (conf_check_items(value, "server", conf_check_server_item, msg, msglen) < 0)
			return -1;
		break;
	}
	*norm = gh_strdup(value);
	return 0;
}

/* ---- setting ---- */

int
conf_set(conf_t *c, const char *section, const char *key, const char *value, const char *origin,
         char *err, size_t errlen)
{
	char q[CONF_QUOTE_MAX], hint[96], msg[512];
	const char *end;
	char *trimmed, *norm;
	conf_slot_t *slot;
	int s, k, rc;

	assert(c != NULL && section != NULL && key != NULL && value != NULL);
	if (origin == NULL)
		origin = "command line";

	s = conf_section_index(section);
	if (s < 0) {
		conf_section_hint(section, hint, sizeof(hint));
		return gh_err(err, errlen, "%s: unknown section [%s]%s", origin,
		              conf_quote(section, q), hint);
	}
	k = conf_key_index(s, key);
	if (k < 0) {
		conf_key_hint(s, key, hint, sizeof(hint));
		return gh_err(err, errlen, "%s: [%s] unknown key \"%s\"%s", origin, section,
		              conf_quote(key, q), hint);
	}

	while (conf_is_space(*value))
		value++;
	for (end = value + strlen(value); end > value && conf_is_space(end[-1]); end--)
		;
	trimmed = gh_strndup(value, (size_t)(end - value));
	rc = conf_check_value(&conf_schema[k], trimmed, &norm, msg, sizeof(msg));
	free(trimmed);
	if (rc < 0)
		return gh_err(err, errlen, "%s: [%s] %s: %s", origin, section, key, msg);

	slot = &c->slots[s][k];
	free(slot->value);
	free(slot->origin);
	slot->value = norm;
	slot->origin = gh_strdup(origin);
	return 0;
}

/* ---- INI files ---- */

typedef struct {
	conf_t *c;
	const char *name; /* escaped, for origins and messages */
	const char *text;
	size_t len, pos;
	int lineno;
	int failed; /* an error is in err, found at line errline */
	int errline;
	char *err;
	size_t errlen;
} conf_parse_t;

static void conf_parse_fail(conf_parse_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Reports an error at the current line and stops the parse. */
static void
conf_parse_fail(conf_parse_t *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gh_err(p->err, p->errlen, "%s:%d: %s", p->name, p->lineno, msg);
	p->failed = 1;
	p->errline = p->lineno;
}

/* Checks a "[section]" line (trimmed, len > 0) the way we want it: a known
 * name, then nothing but an optional comment. Returns 0 or -1 (reported). */
static int
conf_parse_section(conf_parse_t *p, const char *line, size_t len)
{
	const char *rb = memchr(line, ']', len);
	const char *rest;
	char *name;
	char q[CONF_QUOTE_MAX], hint[64];

	if (rb == NULL)
		return 0; /* inih reports the syntax error */
	for (rest = rb + 1; rest < line + len && (*rest == ' ' || *rest == '\t'); rest++)
		;
	if (rest < line + len && *rest != ';' && *rest != '#') {
		conf_parse_fail(p, "syntax error: text after [section]");
		return -1;
	}
	name = gh_strndup(line + 1, (size_t)(rb - line - 1));
	if (conf_section_index(name) < 0) {
		conf_section_hint(name, hint, sizeof(hint));
		conf_parse_fail(p, "unknown section [%s]%s", conf_quote(name, q), hint);
		free(name);
		return -1;
	}
	free(name);
	return 0;
}

/*
 * inih reader: hands inih one line at a time, so that we know every line's
 * number. It also takes over what Debian's inih build would get wrong or
 * hide: lines longer than its buffer (inih would split them), NUL bytes,
 * leading white space (inih would take an indented line for the
 * continuation of the previous value) and section names (inih tells us
 * none, and only reports keys).
 */
static char *
conf_reader(char *str, int num, void *stream)
{
	conf_parse_t *p = stream;
	const char *line, *nl;
	size_t len;

	if (p->failed || p->pos >= p->len)
		return NULL;
	p->lineno++;
	line = p->text + p->pos;
	nl = memchr(line, '\n', p->len - p->pos);
	len = nl != NULL ? (size_t)(nl - line) : p->len - p->pos;
	p->pos += len + (nl != NULL);

	if (memchr(line, '\0', len) != NULL) {
		conf_parse_fail(p, "NUL byte in line");
		return NULL;
	}
	if (p->lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		len -= 3;
	}
	while (len > 0 && conf_is_space(*line)) {
		line++;
		len--;
	}
	while (len > 0 && conf_is_space(line[len - 1]))
		len--;
	/* Room for the newline and the NUL that fgets would add. */
	if (num < 3 || len > (size_t)num - 2) {
		conf_parse_fail(p, "line too long (the limit is %d bytes)", num - 2);
		return NULL;
	}
	if (len > 0 && line[0] == '[' && conf_parse_section(p, line, len) < 0)
		return NULL;
	memcpy(str, line, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int
conf_handler(void *user, const char *section, const char *name, const char *value)
{
	conf_parse_t *p = user;
	char q[CONF_QUOTE_MAX];
	char *origin;

	if (p->failed)
		return 1;
	if (*section == '\0') {
		conf_parse_fail(p, "\"%s\" is not in a section (add [global] or another above it)",
		                conf_quote(name, q));
		return 1;
	}
	origin = gh_asprintf("%s:%d", p->name, p->lineno);
	if (conf_set(p->c, section, name, value, origin, p->err, p->errlen) < 0) {
		p->failed = 1;
		p->errline = p->lineno;
	}
	free(origin);
	/* Errors are ours to report; 1 keeps inih from counting them. */
	return 1;
}

static int
conf_parse(conf_t *c, const char *text, size_t len, const char *name, char *err, size_t errlen)
{
	conf_parse_t p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.name = name;
	p.text = text;
	p.len = len;
	p.err = err;
	p.errlen = errlen;

	rc = ini_parse_stream(conf_reader, &p, conf_handler, &p);
	/* inih goes on after a syntax error, we stop at ours: the first wins. */
	if (rc > 0 && (!p.failed || rc < p.errline))
		return gh_err(err, errlen,
		              "%s:%d: syntax error (expected [section] or key = value)", name, rc);
	if (rc < 0 && !p.failed)
		return gh_err(err, errlen, "%s: cannot parse", name);
	return p.failed ? -1 : 0;
}

int
conf_load_string(conf_t *c, const char *text, const char *name, char *err, size_t errlen)
{
	char *ename;
	int rc;

	assert(c != NULL && text != NULL);
	if (name == NULL)
		name = "(string)";
	ename = conf_escape_dup(name, strlen(name));
	rc = conf_parse(c, text, strlen(text), ename, err, errlen);
	free(ename);
	return rc;
}

/* Loads path; if optional, a file that does not exist is skipped. */
static int
conf_load_path(conf_t *c, const char *path, int optional, const char *why, char *err, size_t errlen)
{
	char *ename, *data = NULL;
	size_t len = 0, cap = 0;
	int fd, rc = -1;

	assert(c != NULL && path != NULL);
	ename = conf_escape_dup(path, strlen(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (optional && errno == ENOENT) {
			free(ename);
			return 0;
		}
		gh_err(err, errlen, "cannot open %s: %s%s", ename, strerror(errno), why);
		goto out;
	}
	for (;;) {
		ssize_t n;
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			data = gh_realloc(data, cap + 1);
		}
		n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			gh_err(err, errlen, "cannot read %s: %s%s", ename, strerror(errno), why);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONF_FILE_MAX) {
			gh_err(err, errlen, "cannot read %s: larger than %d bytes%s", ename,
			       CONF_FILE_MAX, why);
			goto out;
		}
	}
	data[len] = '\0';
	rc = conf_parse(c, data, len, ename, err, errlen);
	if (rc == 0) {
		free(c->file);
		c->file = gh_strdup(path);
	}
out:
	if (fd >= 0)
		close(fd);
	free(data);
	free(ename);
	return rc;
}

int
conf_load_file(conf_t *c, const char *path, char *err, size_t errlen)
{
	return conf_load_path(c, path, 0, "", err, errlen);
}

/* ---- environment ---- */

int
conf_load_env(conf_t *c, char *const *envp, char *err, size_t errlen)
{
	static const size_t plen = sizeof(CONF_ENV_PREFIX) - 1;
	size_t i;

	assert(c != NULL);
	for (i = 0; envp != NULL && envp[i] != NULL; i++) {
		const char *var = envp[i], *eq, *rest, *us;
		char *section, *key, *origin, *ename;
		size_t nlen, j;
		int bad = 0, rc;

		if (strncmp(var, CONF_ENV_PREFIX, plen) != 0 || (eq = strchr(var, '=')) == NULL)
			continue;
		nlen = (size_t)(eq - var);
		if (nlen == strlen("GEARHORN_CONFIG") && strncmp(var, "GEARHORN_CONFIG", nlen) == 0)
			continue;
		ename = conf_escape_dup(var, nlen);
		rest = var + plen;
		us = memchr(rest, '_', (size_t)(eq - rest));
		if (us == NULL || us == rest || us + 1 == eq)
			bad = 1;
		for (j = 0; !bad && rest + j < eq; j++)
			if (!((rest[j] >= 'A' && rest[j] <= 'Z') ||
			      (rest[j] >= '0' && rest[j] <= '9') || rest[j] == '_'))
				bad = 1;
		if (bad) {
			gh_err(err, errlen,
			       "environment %s: not a gearhorn setting (expected "
			       "GEARHORN_<SECTION>_<KEY> in upper case)",
			       ename);
			free(ename);
			return -1;
		}
		section = gh_strndup(rest, (size_t)(us - rest));
		key = gh_strndup(us + 1, (size_t)(eq - us - 1));
		conf_lower(section);
		conf_lower(key);
		origin = gh_asprintf("environment %s", ename);
		rc = conf_set(c, section, key, eq + 1, origin, err, errlen);
		free(origin);
		free(section);
		free(key);
		free(ename);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- whole load ---- */

static const char *
conf_env_lookup(char *const *envp, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=')
			return envp[i] + len + 1;
	return NULL;
}

conf_t *
conf_load(const char *path, char *const *envp, char *err, size_t errlen)
{
	conf_t *c = conf_new();
	const char *why = "";
	int optional = 0;

	if (path == NULL) {
		path = conf_env_lookup(envp, "GEARHORN_CONFIG");
		if (path != NULL && *path != '\0') {
			why = " (named by GEARHORN_CONFIG)";
		} else {
			path = conf_default_path();
			optional = 1;
		}
	}
	if (conf_load_path(c, path, optional, why, err, errlen) < 0 ||
	    conf_load_env(c, envp, err, errlen) < 0)
		conf_destroy(&c);
	return c;
}

conf_t *
conf_load_overrides(const char *path, char *const *envp, const char *section,
                    const conf_override_t *ov, size_t n, char *err, size_t errlen)
{
	conf_t *c = conf_load(path, envp, err, errlen);
	size_t i;

	for (i = 0; c != NULL && i < n; i++)
		if (conf_set(c, section, ov[i].key, ov[i].value, "command line", err, errlen) == -1)
			conf_destroy(&c);
	return c;
}

/* ---- reading ---- */

const char *
conf_get(const conf_t *c, const char *section, const char *key)
{
	const conf_slot_t *slot;
	int s, k;

	assert(c != NULL);
	conf_lookup(section, key, &s, &k);
	slot = conf_effective(c, s, k);
	return slot != NULL ? slot->value : conf_schema[k].info.def;
}

const char *
conf_origin(const conf_t *c, const char *section, const char *key)
{
	const conf_slot_t *slot;
	int s, k;

	assert(c != NULL);
	conf_lookup(section, key, &s, &k);
	slot = conf_effective(c, s, k);
	return slot != NULL ? slot->origin : "default";
}

long
conf_get_int(const conf_t *c, const char *section, const char *key)
{
	int s, k, rc;
	long v = 0;

	conf_lookup(section, key, &s, &k);
	assert(conf_schema[k].type == CONF_INT);
	rc = gh_parse_long(conf_get(c, section, key), conf_schema[k].min, conf_schema[k].max, &v);
	assert(rc == 0);
	(void)rc;
	return v;
}

int
conf_get_bool(const conf_t *c, const char *section, const char *key)
{
	int s, k, rc, b = 0;

	conf_lookup(section, key, &s, &k);
	assert(conf_schema[k].type == CONF_BOOL);
	rc = conf_parse_bool(conf_get(c, section, key), &b);
	assert(rc == 0);
	(void)rc;
	return b;
}

char **
conf_get_list(const conf_t *c, const char *section, const char *key, size_t *n)
{
	const char *p = conf_get(c, section, key);
	char **list;
	size_t count = 0, cap = 4;

	list = gh_malloc(cap * sizeof(*list));
	for (;;) {
		size_t len;
		while (conf_is_sep(*p))
			p++;
		if (*p == '\0')
			break;
		for (len = 0; p[len] != '\0' && !conf_is_sep(p[len]); len++)
			;
		if (count + 1 >= cap) {
			cap *= 2;
			list = gh_realloc(list, cap * sizeof(*list));
		}
		list[count++] = gh_strndup(p, len);
		p += len;
	}
	list[count] = NULL;
	*n = count;
	return list;
}

void
conf_list_free(char **list, size_t n)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* ---- dump ---- */

static void
conf_dump_line(FILE *out, const char *key, const char *value, const char *origin, const char *note)
{
	int n = fprintf(out, "%s = %s", key, value);

	fprintf(out, "%*s ; %s%s\n", n < 39 ? 39 - n : 0, "", origin, note);
}

static void
conf_dump_section(const conf_t *c, int s, int all, FILE *out)
{
	size_t k;

	fprintf(out, "[%s]\n", conf_sections[s]);
	/* A program section lists the [global] keys first, as [global] does. */
	for (k = 0; k < CONF_NKEYS; k++) {
		const conf_schema_t *e = &conf_schema[k];
		const conf_slot_t *slot;
		if (s == CONF_GLOBAL || !conf_is_global(e))
			continue;
		if (c->slots[s][k].value != NULL) {
			slot = &c->slots[s][k];
			conf_dump_line(out, e->info.key, slot->value, slot->origin, "");
		} else if (!all) {
			slot = conf_effective(c, s, (int)k);
			conf_dump_line(out, e->info.key, slot ? slot->value : e->info.def,
			               slot ? slot->origin : "default", " (from [global])");
		}
	}
	for (k = 0; k < CONF_NKEYS; k++) {
		const conf_schema_t *e = &conf_schema[k];
		const conf_slot_t *slot;
		if (strcmp(e->info.section, conf_sections[s]) != 0)
			continue;
		slot = conf_effective(c, s, (int)k);
		conf_dump_line(out, e->info.key, slot ? slot->value : e->info.def,
		               slot ? slot->origin : "default", "");
	}
}

void
conf_dump(const conf_t *c, const char *section, FILE *out)
{
	size_t s;

	assert(c != NULL && out != NULL);
	fprintf(out, "# gearhorn configuration: effective values, each with its origin\n");
	if (section != NULL) {
		int i = conf_section_index(section);
		assert(i >= 0 && "unknown configuration section");
		conf_dump_section(c, i, 0, out);
		return;
	}
	for (s = 0; s < CONF_NSECTIONS; s++) {
		fprintf(out, "%s", s > 0 ? "\n" : "");
		conf_dump_section(c, (int)s, 1, out);
	}
}
