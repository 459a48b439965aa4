/*
 * fanout.c: gearhorn fanout, the topics of gearhorn-fanout(8).
 *
 * The verbs that change subscriptions or publish submit the worker's
 * functions through gearmand, so that every fanout process hears of the
 * change. The verbs that read subscriptions open the worker's store
 * read-only through its own module (fanout/store.h), which never creates,
 * migrates or writes the file. stats also asks each gearmand for its
 * status over the plain-text admin protocol.
 */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <libgearman-1.0/gearman.h>

#include "cli.h"
#include "startup.h"
#include "store.h"
#include "util.h"

static const cli_opt_t opt_server = {
    's', "server", "SERVER",
    "a gearman job server, HOST[:PORT]; repeatable (default: [fanout] gearman_servers)",
    CLI_OPT_REPEAT};
static const cli_opt_t opt_database = {
    'd', "database", "DATABASE",
    "the subscriber database (default: [fanout] database, else state_dir/fanout.db)", 0};
static const cli_opt_t opt_timeout = {
    0, "timeout-ms", "MS", "how long to wait for gearmand and the worker (default 30000)", 0};

static int fanout_subscribe(cli_t *cli, const cli_args_t *args);
static int fanout_unsubscribe(cli_t *cli, const cli_args_t *args);
static int fanout_publish(cli_t *cli, const cli_args_t *args);
static int fanout_list(cli_t *cli, const cli_args_t *args);
static int fanout_purge(cli_t *cli, const cli_args_t *args);
static int fanout_stats(cli_t *cli, const cli_args_t *args);

static const cli_opt_t opt_ttl = {0, "ttl", "SECONDS",
                                  "let the subscription expire after SECONDS (0: never)", 0};
static const cli_opt_t *const subscribe_opts[] = {&opt_ttl, &opt_server, &opt_timeout, NULL};

static const cli_cmd_t subscribe_cmd = {
    .name = "subscribe",
    .args = "TOPIC CLIENT",
    .min_args = 2,
    .max_args = 2,
    .opts = subscribe_opts,
    .help = "Subscribe CLIENT to TOPIC (subscribe_fanout).",
    .exec = fanout_subscribe,
};

static const cli_opt_t *const unsubscribe_opts[] = {&opt_server, &opt_timeout, NULL};

static const cli_cmd_t unsubscribe_cmd = {
    .name = "unsubscribe",
    .args = "TOPIC CLIENT",
    .min_args = 2,
    .max_args = 2,
    .opts = unsubscribe_opts,
    .help = "Unsubscribe CLIENT from TOPIC (unsubscribe_fanout).",
    .exec = fanout_unsubscribe,
};

static const cli_opt_t opt_payload_json = {
    0, "json", NULL, "send PAYLOAD as the JSON value it holds, not as a string", 0};
static const cli_opt_t opt_background = {0, "background", NULL, "do not wait for the copies", 0};
static const cli_opt_t opt_unique = {0, "unique", "UNIQUE", "the gearman unique id of the job", 0};
static const cli_opt_t *const publish_opts[] = {&opt_payload_json, &opt_background, &opt_unique,
                                                &opt_server,       &opt_timeout,    NULL};

static const cli_cmd_t publish_cmd = {
    .name = "publish",
    .args = "TOPIC PAYLOAD",
    .min_args = 2,
    .max_args = 2,
    .opts = publish_opts,
    .help = "Send PAYLOAD to every subscriber of TOPIC (fanout); print how many got it.",
    .exec = fanout_publish,
};

static const cli_opt_t opt_list_json = {0, "json", NULL,
                                        "print {TOPIC: [{client_id, expires_at}, ...], ...}", 0};
static const cli_opt_t *const list_opts[] = {&opt_list_json, &opt_database, NULL};

static const cli_cmd_t list_cmd = {
    .name = "list",
    .args = "[TOPIC]",
    .max_args = 1,
    .opts = list_opts,
    .help = "Print the live subscriptions, or those of TOPIC, from the database.",
    .exec = fanout_list,
};

static const cli_opt_t *const purge_opts[] = {&opt_database, &opt_server, &opt_timeout, NULL};

static const cli_cmd_t purge_cmd = {
    .name = "purge",
    .args = "CLIENT",
    .min_args = 1,
    .max_args = 1,
    .opts = purge_opts,
    .help = "Unsubscribe CLIENT from every topic the database has it in; print how many.",
    .exec = fanout_purge,
};

static const cli_opt_t *const stats_opts[] = {&opt_database, &opt_server, &opt_timeout, NULL};

static const cli_cmd_t stats_cmd = {
    .name = "stats",
    .opts = stats_opts,
    .help = "Print each gearmand's status of the fanout functions and the database's counts.",
    .exec = fanout_stats,
};

static const cli_cmd_t *const fanout_verbs[] = {
    &subscribe_cmd, &unsubscribe_cmd, &publish_cmd, &list_cmd, &purge_cmd, &stats_cmd, NULL,
};

const cli_cmd_t cli_cmd_fanout = {
    .name = "fanout",
    .args = "VERB [ARGS]",
    .help = "Subscribe, unsubscribe, publish, list, purge or show stats of gearhorn-fanout(8) "
            "topics.",
    .verbs = fanout_verbs,
};

/* ---- arguments ---- */

/* A topic or client id: not empty, no white space or control characters.
 * Returns 0, or EX_USAGE after a message. */
static int
check_name(const char *what, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (*p == '\0') {
		cli_error("the %s is empty", what);
		return EX_USAGE;
	}
	for (; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f) {
			cli_error("\"%s\" is not a valid %s (white space or control characters)",
			          name, what);
			return EX_USAGE;
		}
	}
	return 0;
}

/* The database path: -d, else the worker's (startup_db_path: [fanout]
 * database, else state_dir/fanout.db). Caller owns the result; NULL after
 * a message. */
static char *
database_path(cli_t *cli, const cli_args_t *args)
{
	const char *db = cli_arg(args, "database");
	conf_t *conf;
	char *path;

	if (db != NULL)
		return gh_strdup(db);
	if ((conf = cli_conf(cli)) == NULL)
		return NULL;
	path = startup_db_path(conf, "fanout", "database", "fanout.db");
	conf_destroy(&conf);
	return path;
}

/* After store_open_readonly failed with err (borrowed) and errno: prints err
 * and returns EX_DATAERR for a database that is not a fanout database, else
 * EX_NOINPUT. */
static int
open_store_failed(const char *err)
{
	int rc = errno == EINVAL ? EX_DATAERR : EX_NOINPUT;

	cli_error("%s", err);
	return rc;
}

/* Opens the store at path read-only into *store (caller owns it). Returns 0,
 * or after a message EX_NOINPUT for a file that is missing or cannot be
 * opened, EX_DATAERR for one that is not a fanout database. */
static int
open_store(const char *path, store_t **store)
{
	char err[512];

	if ((*store = store_open_readonly(path, err, sizeof(err))) != NULL)
		return 0;
	return open_store_failed(err);
}

/* Where gearmand is and how long to wait for it. */
typedef struct {
	char **servers; /* HOST[:PORT] each; owned, a list as conf_get_list makes */
	size_t n;
	long timeout_ms;
} fanout_gearman_t;

static void
gearman_add(fanout_gearman_t *g, const char *server)
{
	g->servers = gh_realloc(g->servers, (g->n + 1) * sizeof(*g->servers));
	g->servers[g->n++] = gh_strdup(server);
}

static void
gearman_free(fanout_gearman_t *g)
{
	conf_list_free(g->servers, g->n);
	g->servers = NULL;
	g->n = 0;
}

/* Fills g from --timeout-ms and -s, else from the configuration as the
 * worker reads it (startup_gearman_servers: [fanout] gearman_servers, each
 * checked). Returns 0, or an exit status after a message; the caller frees
 * g (gearman_free) either way. */
static int
gearman_servers(cli_t *cli, const cli_args_t *args, fanout_gearman_t *g)
{
	const char *const *given;
	gh_error_t e;
	conf_t *conf;
	size_t i, n;

	memset(g, 0, sizeof(*g));
	g->timeout_ms = 30000;
	if (cli_arg_number(args, "timeout-ms", 1, &g->timeout_ms) != 0)
		return EX_USAGE;
	given = cli_arg_all(args, "server", &n);
	for (i = 0; i < n; i++)
		gearman_add(g, given[i]);
	if (g->n > 0)
		return 0;
	if ((conf = cli_conf(cli)) == NULL)
		return EX_CONFIG;
	g->servers = startup_gearman_servers(conf, "fanout", &g->n, &e);
	conf_destroy(&conf);
	if (g->servers == NULL) {
		g->n = 0;
		cli_error("%s; or give -s SERVER", e.text);
		return e.status;
	}
	return 0;
}

/* ---- gearman jobs ---- */

typedef struct {
	int done, exception, failed, warned;
	char *text; /* result, exception or warning text */
} fanout_reply_t;

static void
reply_set(fanout_reply_t *r, const void *data, size_t size)
{
	free(r->text);
	r->text = gh_malloc(size + 1);
	if (size > 0)
		memcpy(r->text, data, size);
	r->text[size] = '\0';
}

static gearman_return_t
on_complete(gearman_task_st *task)
{
	fanout_reply_t *r = gearman_task_context(task);

	r->done = 1;
	reply_set(r, gearman_task_data(task), gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_exception(gearman_task_st *task)
{
	fanout_reply_t *r = gearman_task_context(task);
	gearman_string_t e = gearman_task_exception(task);

	r->done = r->exception = 1;
	if (e.size > 0)
		reply_set(r, e.c_str, e.size);
	else
		reply_set(r, gearman_task_data(task), gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

/* gearhorn-fanout says why a job fails in a WORK_WARNING before its
 * WORK_FAIL (older fanout workers sent WORK_EXCEPTION). */
static gearman_return_t
on_warning(gearman_task_st *task)
{
	fanout_reply_t *r = gearman_task_context(task);

	r->warned = 1;
	reply_set(r, gearman_task_data(task), gearman_task_data_size(task));
	return GEARMAN_SUCCESS;
}

static gearman_return_t
on_fail(gearman_task_st *task)
{
	fanout_reply_t *r = gearman_task_context(task);

	if (!r->exception)
		r->failed = 1;
	r->done = 1;
	return GEARMAN_SUCCESS;
}

/* A client of every server of g; NULL after a message. Caller owns the
 * result (gearman_client_free). */
static gearman_client_st *
gearman_connect(const fanout_gearman_t *g)
{
	gearman_client_st *c = gearman_client_create(NULL);
	char host[256], err[256] = "";
	size_t i;
	int port;

	if (c == NULL) {
		cli_error("cannot create a gearman client");
		return NULL;
	}
	for (i = 0; i < g->n; i++, err[0] = '\0') {
		if (conf_parse_server(g->servers[i], host, sizeof(host), &port, err, sizeof(err)) <
		        0 ||
		    gearman_client_add_server(c, host, (in_port_t)port) != GEARMAN_SUCCESS) {
			cli_error("bad gearman server \"%s\"%s%s", g->servers[i],
			          err[0] ? ": " : "", err);
			gearman_client_free(c);
			return NULL;
		}
	}
	gearman_client_add_options(c, GEARMAN_CLIENT_EXCEPTION);
	gearman_client_set_timeout(c, (int)g->timeout_ms);
	gearman_client_set_complete_fn(c, on_complete);
	gearman_client_set_exception_fn(c, on_exception);
	gearman_client_set_warning_fn(c, on_warning);
	gearman_client_set_fail_fn(c, on_fail);
	return c;
}

/* The servers and timeout of args, connected; NULL with the exit status in
 * *rc (after a message). Caller owns the result (gearman_client_free). */
static gearman_client_st *
fanout_connect(cli_t *cli, const cli_args_t *args, int *rc)
{
	gearman_client_st *c = NULL;
	fanout_gearman_t g;

	if ((*rc = gearman_servers(cli, args, &g)) == 0 && (c = gearman_connect(&g)) == NULL)
		*rc = EX_CONFIG;
	gearman_free(&g);
	return c;
}

/* Runs one foreground job of fn with the JSON workload (taken). On success
 * *result is the worker's result (caller owns it). Returns 0, 1 for a job
 * that failed (its reason, from a warning or an exception, printed), 69
 * when no job server answered. */
static int
fanout_call(gearman_client_st *c, const char *fn, json_t *workload, char **result)
{
	fanout_reply_t r = {0, 0, 0, 0, NULL};
	char *text = json_dumps(workload, JSON_COMPACT);
	gearman_return_t rc;
	int status;

	json_decref(workload);
	*result = NULL;
	if (text == NULL) {
		cli_error("out of memory");
		return EX_SOFTWARE;
	}
	if (gearman_client_add_task(c, NULL, &r, fn, NULL, text, strlen(text), &rc) == NULL) {
		cli_error("%s: %s", fn, gearman_client_error(c));
		free(text);
		return EX_UNAVAILABLE;
	}
	rc = gearman_client_run_tasks(c);
	free(text);
	if (!r.done) {
		cli_error("%s: %s", fn, gearman_failed(rc) ? gearman_client_error(c) : "no answer");
		status = EX_UNAVAILABLE;
	} else if (r.exception || (r.failed && r.warned)) {
		printf("%s\n", r.text ? r.text : "");
		status = 1;
	} else if (r.failed) {
		cli_error("%s: the job failed", fn);
		status = 1;
	} else {
		*result = r.text;
		return 0;
	}
	free(r.text);
	return status;
}

static json_t *
sub_json(const char *topic, const char *client)
{
	json_t *o = json_object();

	json_object_set_new(o, "topic", json_string(topic));
	json_object_set_new(o, "client_id", json_string(client));
	return o;
}

/* ---- subscribe, unsubscribe, publish ---- */

/* Submits fn for TOPIC CLIENT and prints done. */
static int
fanout_subscription(cli_t *cli, const cli_args_t *args, const char *fn, const char *done)
{
	const char *topic = args->argv[0], *client = args->argv[1];
	gearman_client_st *c;
	char *result;
	long ttl = -1;
	json_t *w;
	int rc;

	if (cli_arg_number(args, "ttl", 0, &ttl) != 0)
		return EX_USAGE;
	if ((rc = check_name("topic", topic)) != 0 || (rc = check_name("client id", client)) != 0)
		return rc;
	if ((c = fanout_connect(cli, args, &rc)) == NULL)
		return rc;
	w = sub_json(topic, client);
	if (ttl >= 0)
		json_object_set_new(w, "ttl", json_integer(ttl));
	rc = fanout_call(c, fn, w, &result);
	gearman_client_free(c);
	free(result);
	if (rc == 0)
		printf("%s\n", done);
	return rc;
}

static int
fanout_subscribe(cli_t *cli, const cli_args_t *args)
{
	return fanout_subscription(cli, args, "subscribe_fanout", "subscribed");
}

static int
fanout_unsubscribe(cli_t *cli, const cli_args_t *args)
{
	return fanout_subscription(cli, args, "unsubscribe_fanout", "unsubscribed");
}

/* PAYLOAD as a JSON string, or with --json as the value it holds. Caller
 * owns the result; NULL after a message. */
static json_t *
publish_payload(const cli_args_t *args)
{
	json_t *payload;

	if (cli_has(args, "json"))
		return cli_json_arg("PAYLOAD", args->argv[1]);
	if ((payload = json_string(args->argv[1])) == NULL)
		cli_error("PAYLOAD is not UTF-8 (use --json)");
	return payload;
}

static int
fanout_publish(cli_t *cli, const cli_args_t *args)
{
	const char *topic = args->argv[0], *unique = cli_arg(args, "unique");
	gearman_client_st *c;
	json_t *w, *payload;
	char *result;
	int rc;

	if ((rc = check_name("topic", topic)) != 0)
		return rc;
	if ((payload = publish_payload(args)) == NULL)
		return EX_DATAERR;
	if ((c = fanout_connect(cli, args, &rc)) == NULL) {
		json_decref(payload);
		return rc;
	}
	w = json_object();
	json_object_set_new(w, "topic", json_string(topic));
	json_object_set_new(w, "payload", payload);
	if (cli_has(args, "background"))
		json_object_set_new(w, "background", json_true());
	if (unique != NULL)
		json_object_set_new(w, "unique", json_string(unique));
	rc = fanout_call(c, "fanout", w, &result);
	gearman_client_free(c);
	if (rc == 0)
		printf("%s\n", result ? result : "");
	free(result);
	return rc;
}

/* ---- list, purge ---- */

static void
print_subs_table(const store_subs_t *subs)
{
	const store_sub_t *sub;
	char when[32];
	struct tm tm;
	time_t t;
	size_t i;

	printf("%-24s %-24s %s\n", "TOPIC", "CLIENT", "EXPIRES");
	for (i = 0; i < subs->n; i++) {
		sub = &subs->items[i];
		t = (time_t)sub->expires_at;
		if (sub->expires_at == 0)
			snprintf(when, sizeof(when), "never");
		else
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
		printf("%-24s %-24s %s\n", sub->topic, sub->client, when);
	}
}

/* {"TOPIC": [{"client_id": ..., "expires_at": SECONDS or null}, ...], ...} */
static void
print_subs_json(const store_subs_t *subs)
{
	json_t *all = json_object(), *list, *e;
	const store_sub_t *sub;
	size_t i;

	for (i = 0; i < subs->n; i++) {
		sub = &subs->items[i];
		if ((list = json_object_get(all, sub->topic)) == NULL) {
			list = json_array();
			json_object_set_new(all, sub->topic, list);
		}
		e = json_object();
		json_object_set_new(e, "client_id", json_string(sub->client));
		json_object_set_new(
		    e, "expires_at",
		    sub->expires_at == 0 ? json_null() : json_integer((json_int_t)sub->expires_at));
		json_array_append_new(list, e);
	}
	cli_print_json(all, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(all);
}

static int
fanout_list(cli_t *cli, const cli_args_t *args)
{
	const char *topic = args->argc > 0 ? args->argv[0] : NULL;
	store_subs_t subs;
	store_t *store;
	char err[512], *path;
	int rc;

	if (topic != NULL && (rc = check_name("topic", topic)) != 0)
		return rc;
	if ((path = database_path(cli, args)) == NULL)
		return EX_CONFIG;
	rc = open_store(path, &store);
	free(path);
	if (rc != 0)
		return rc;
	rc = store_subscriptions(store, topic, (int64_t)time(NULL), &subs, err, sizeof(err));
	store_destroy(&store);
	if (rc != 0) {
		cli_error("%s", err);
		return EX_DATAERR;
	}
	if (cli_has(args, "json"))
		print_subs_json(&subs);
	else
		print_subs_table(&subs);
	store_subs_free(&subs);
	return EX_OK;
}

/* Fills *topics with the topics of client in the database, without the
 * workers' own matchmaking topic (refused over gearman). Returns 0 or an
 * exit status after a message. */
static int
client_topics(cli_t *cli, const cli_args_t *args, const char *client, store_list_t *topics)
{
	char err[512], *path;
	store_t *store;
	size_t i, kept;
	int rc;

	if ((path = database_path(cli, args)) == NULL)
		return EX_CONFIG;
	rc = open_store(path, &store);
	free(path);
	if (rc != 0)
		return rc;
	rc = store_client_topics(store, client, topics, err, sizeof(err));
	store_destroy(&store);
	if (rc != 0) {
		cli_error("%s", err);
		return EX_DATAERR;
	}
	for (i = kept = 0; i < topics->n; i++) {
		if (strcmp(topics->items[i], "__matchmaking") == 0)
			free(topics->items[i]);
		else
			topics->items[kept++] = topics->items[i];
	}
	topics->n = kept;
	return 0;
}

/* Unsubscribes client from each of topics through gearmand and prints how
 * many. Returns 0 or the exit status of the first failure. */
static int
unsubscribe_all(const fanout_gearman_t *g, const char *client, const store_list_t *topics)
{
	gearman_client_st *c = NULL;
	size_t i, count = 0;
	char *result;
	int rc = 0;

	if (topics->n > 0 && (c = gearman_connect(g)) == NULL)
		return EX_CONFIG;
	for (i = 0; rc == 0 && i < topics->n; i++) {
		rc = fanout_call(c, "unsubscribe_fanout", sub_json(topics->items[i], client),
		                 &result);
		free(result);
		count += rc == 0;
	}
	if (c != NULL)
		gearman_client_free(c);
	if (rc == 0)
		printf("%zu\n", count);
	return rc;
}

static int
fanout_purge(cli_t *cli, const cli_args_t *args)
{
	const char *client = args->argv[0];
	store_list_t topics = {NULL, 0, 0};
	fanout_gearman_t g;
	int rc;

	if ((rc = check_name("client id", client)) != 0)
		return rc;
	if ((rc = gearman_servers(cli, args, &g)) == 0 &&
	    (rc = client_topics(cli, args, client, &topics)) == 0)
		rc = unsubscribe_all(&g, client, &topics);
	store_list_free(&topics);
	gearman_free(&g);
	return rc;
}

/* ---- stats ---- */

/* A TCP connection to server with send and receive timeouts; -1 after a
 * message. */
static int
admin_connect(const char *server, long timeout_ms)
{
	struct addrinfo hints, *res = NULL, *ai;
	char host[256], err[256], port[16];
	struct timeval tv;
	int p, fd = -1;

	if (conf_parse_server(server, host, sizeof(host), &p, err, sizeof(err)) < 0) {
		cli_error("bad gearman server \"%s\": %s", server, err);
		return -1;
	}
	snprintf(port, sizeof(port), "%d", p);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		cli_error("cannot resolve %s", host);
		return -1;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		cli_error("cannot connect to gearmand at %s: %s", server, strerror(errno));
	return fd;
}

/* Reads fd up to and including a "." line. Caller owns the result; NULL if
 * the connection ended or timed out first. */
static char *
admin_read_reply(int fd)
{
	char buf[4096], *reply = gh_strdup("");
	size_t len = 0;
	ssize_t got;

	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		reply = gh_realloc(reply, len + (size_t)got + 1);
		memcpy(reply + len, buf, (size_t)got);
		len += (size_t)got;
		reply[len] = '\0';
		if (strcmp(reply, ".\n") == 0 ||
		    (len >= 3 && strcmp(reply + len - 3, "\n.\n") == 0))
			return reply;
	}
	free(reply);
	return NULL;
}

/* Sends an admin command to a gearman server over plain TCP and returns
 * its reply up to the "." line (caller owns it), or NULL after a message. */
static char *
gearman_admin(const char *server, const char *command, long timeout_ms)
{
	char *line, *reply = NULL;
	int fd;

	if ((fd = admin_connect(server, timeout_ms)) < 0)
		return NULL;
	line = gh_asprintf("%s\n", command);
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line))
		cli_error("%s: %s", server, strerror(errno));
	else if ((reply = admin_read_reply(fd)) == NULL)
		cli_error("%s: no complete answer to \"%s\"", server, command);
	free(line);
	close(fd);
	return reply;
}

static int
fanout_function(const char *name)
{
	static const char *const fns[] = {"subscribe_fanout", "register_fanout_subscriber",
	                                  "unsubscribe_fanout", "fanout"};
	size_t i;

	for (i = 0; i < GH_ARRAY_LEN(fns); i++)
		if (strcmp(name, fns[i]) == 0)
			return 1;
	return strncmp(name, "__matchmaking_", 14) == 0;
}

/* Prints the status lines of the fanout functions from server's reply. */
static void
print_status_lines(const char *server, char *reply)
{
	char *line, *save = NULL, fn[256];
	long q, r, w;

	printf("gearmand %s\n%-40s %8s %8s %8s\n", server, "FUNCTION", "QUEUED", "RUNNING",
	       "WORKERS");
	for (line = strtok_r(reply, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, "%255[^\t]\t%ld\t%ld\t%ld", fn, &q, &r, &w) == 4 &&
		    fanout_function(fn))
			printf("%-40s %8ld %8ld %8ld\n", fn, q, r, w);
}

/* Prints each server's status of the fanout functions. A server that does
 * not answer is named and skipped: the others are still shown. Returns
 * whether one did not answer. */
static int
print_gearmand_status(const fanout_gearman_t *g)
{
	int silent = 0;
	char *reply;
	size_t i;

	for (i = 0; i < g->n; i++) {
		if ((reply = gearman_admin(g->servers[i], "status", g->timeout_ms)) == NULL) {
			printf("gearmand %s: no answer\n", g->servers[i]);
			silent = 1;
			continue;
		}
		print_status_lines(g->servers[i], reply);
		free(reply);
	}
	return silent;
}

/* Prints the numbers of live topics and subscriptions of the database at
 * path, or that it is absent. Returns an exit status. */
static int
print_store_counts(const char *path)
{
	int64_t topics, subs;
	char err[512];
	store_t *store;
	int rc;

	/* A missing SQLite file is no error here; a PostgreSQL database is
	 * never absent, only unreachable. */
	if ((store = store_open_readonly(path, err, sizeof(err))) == NULL) {
		if (errno != ENOENT)
			return open_store_failed(err);
		printf("\ndatabase %s: absent\n", path);
		return EX_OK;
	}
	rc = store_count(store, (int64_t)time(NULL), &topics, &subs, err, sizeof(err));
	store_destroy(&store);
	if (rc != 0) {
		cli_error("%s", err);
		return EX_DATAERR;
	}
	printf("\ndatabase %s\ntopics %lld\nsubscriptions %lld\n", path, (long long)topics,
	       (long long)subs);
	return EX_OK;
}

static int
fanout_stats(cli_t *cli, const cli_args_t *args)
{
	fanout_gearman_t g;
	char *path;
	int rc, silent;

	if ((rc = gearman_servers(cli, args, &g)) != 0) {
		gearman_free(&g);
		return rc;
	}
	silent = print_gearmand_status(&g);
	gearman_free(&g);
	if ((path = database_path(cli, args)) == NULL)
		return EX_CONFIG;
	rc = print_store_counts(path);
	free(path);
	return rc == EX_OK && silent ? EX_UNAVAILABLE : rc;
}
