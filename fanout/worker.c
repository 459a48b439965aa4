/*
 * worker.c: the gearhorn-fanout worker (see worker.h and gearhorn-fanout(8)).
 *
 * gearhorn 0.0.5 compatibility, with its defects fixed: every function is
 * registered; unsubscribe works; bad input of any shape is answered with its
 * reason (WORK_WARNING) and WORK_FAIL instead of killing the worker; copies
 * are submitted in batches (background) or concurrently (foreground) instead
 * of one round trip each; a foreground fanout waits until every copy has
 * finished, failed or timed out, and reports each failed subscriber exactly
 * once.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <libgearman-1.0/gearman.h>

#include "log.h"
#include "startup.h"
#include "store.h"
#include "util.h"
#include "worker.h"

/* A gearman function name is "<topic>_<client_id>"; we keep it within the
 * 255 bytes that every gearman implementation accepts. */
#define FANOUT_FUNCTION_MAX 255
/* libgearman's limit on a unique id, less its terminating NUL. */
#define FANOUT_UNIQUE_MAX (GEARMAN_MAX_UNIQUE_SIZE - 1)
/* Longest ttl a subscription may ask for: ten years. */
#define FANOUT_TTL_MAX 315360000L
/* How long gearman_worker_work waits before we look at the stop flag. */
#define FANOUT_POLL_MS        1000
#define FANOUT_BACKOFF_MIN_MS 100
#define FANOUT_BACKOFF_MAX_MS 5000
/* Bytes of a bad workload quoted in the log. */
#define FANOUT_LOG_WORKLOAD 200
/* Most copies of a background fanout in flight at once, and copies of one
 * that share a unique id (see fanout_submit). */
#define FANOUT_BATCH        1000
#define FANOUT_UNIQUE_GROUP 64
/* Longest subscriber warning kept as the reason of its failure. */
#define FANOUT_REASON_MAX 4096
/* Seconds between sweeps of expired subscriptions. */
#define FANOUT_SWEEP_INTERVAL 60
/* The topic that fanout workers subscribe themselves to (matchmaking). */
#define FANOUT_MM_TOPIC "__matchmaking"

typedef enum {
	FN_SUBSCRIBE,
	FN_REGISTER,
	FN_UNSUBSCRIBE,
	FN_FANOUT,
	FN_MATCHMAKING, /* __matchmaking_<instance>: another worker changed a topic */
	FN_COUNT
} fanout_fn_t;

static const char *const fanout_fn_names[FN_COUNT] = {
    [FN_SUBSCRIBE] = "subscribe_fanout",     [FN_REGISTER] = "register_fanout_subscriber",
    [FN_UNSUBSCRIBE] = "unsubscribe_fanout", [FN_FANOUT] = "fanout",
    [FN_MATCHMAKING] = FANOUT_MM_TOPIC,
};

typedef struct {
	fanout_t *f;
	fanout_fn_t fn;
} fanout_fn_ctx_t;

/* The client connection to one job server. */
typedef struct {
	gearman_client_st *client; /* NULL until first needed, or after an error */
	uint64_t retry_at;         /* gh_now_ms(): skipped before this, if others live */
	long backoff;              /* ms; 0 while the server answers */
	unsigned long tried;       /* the last batch (fanout.batch_seq) sent to it */
} fanout_server_t;

struct fanout {
	store_t *store;
	cache_t *cache; /* borrowed, may be NULL */
	gearman_worker_st *worker;
	/* One client per job server, so that a copy goes to one server only
	 * and a dead one is skipped by us, not by libgearman (see
	 * fanout_submit_batch). */
	fanout_server_t *gm;
	char **servers;
	size_t nservers;
	size_t next_server;         /* where the next fanout starts: round robin */
	unsigned long batch_seq;    /* counts batches, for fanout_server_t.tried */
	long foreground_timeout_ms; /* set by fanout_reconfigure from another thread */
	long default_ttl;           /* likewise: read and written with __atomic */
	char identifier[128];
	fanout_fn_ctx_t fn_ctx[FN_COUNT];
	char *instance;    /* matchmaking id, NULL: no matchmaking */
	char *mm_function; /* __matchmaking_<instance> */
	long mm_ttl;
	int64_t next_sweep, next_refresh;
	int failed; /* the job just run ended with WORK_FAIL */
};

/* One copy of a fanout: where it goes and how it ended. */
typedef struct fanout_copy fanout_copy_t;
typedef struct {
	fanout_t *f;
	gearman_client_st *client; /* the one the batch runs on */
	uint64_t deadline_ms;      /* gh_now_ms() clock */
	size_t pending;
	size_t created; /* copies gearmand accepted (JOB_CREATED) */
} fanout_batch_t;

struct fanout_copy {
	fanout_batch_t *batch;
	const char *client_id; /* borrowed from the subscriber list */
	int done;
	int created;   /* a job server queued it (JOB_CREATED) */
	char *error;   /* NULL if it succeeded */
	char *warning; /* the subscriber's last WORK_WARNING, the reason if it fails */
};

char *
fanout_db_path(const conf_t *conf)
{
	return startup_db_path(conf, "fanout", "database", "fanout.db");
}

/* ---- gearman client for the copies ---- */

static void
fanout_copy_finish(fanout_copy_t *c, const char *error)
{
	if (c->done)
		return;
	c->done = 1;
	c->error = error ? gh_strdup(error) : NULL;
	free(c->warning);
	c->warning = NULL;
	c->batch->pending--;
}

/* Every reply on the client connection shortens the poll timeout to what is
 * left of the batch's time, so the whole wait is bounded, not each poll. */
static void
fanout_batch_tick(fanout_batch_t *b)
{
	uint64_t now = gh_now_ms();
	long left;

	if (b->deadline_ms == 0)
		return;
	left = now >= b->deadline_ms ? 1 : (long)(b->deadline_ms - now);
	gearman_client_set_timeout(b->client, (int)(left > 0 ? left : 1));
}

static gearman_return_t
fanout_on_created(gearman_task_st *task)
{
	fanout_copy_t *c = gearman_task_context(task);

	if (c != NULL) {
		c->batch->created++;
		c->created = 1;
		/* A background copy is done once gearmand has queued it
		 * (a background batch has no deadline). */
		if (c->batch->deadline_ms == 0)
			fanout_copy_finish(c, NULL);
		fanout_batch_tick(c->batch);
	}
	return GEARMAN_SUCCESS;
}

static gearman_return_t
fanout_on_progress(gearman_task_st *task)
{
	fanout_copy_t *c = gearman_task_context(task);

	if (c != NULL)
		fanout_batch_tick(c->batch);
	return GEARMAN_SUCCESS;
}

/* A subscriber that fails says why in a WORK_WARNING first (as
 * gearhorn-fanout and gearhorn-bridge do): kept, if it is text that can go
 * into the JSON error list, as the reason should WORK_FAIL follow. */
static gearman_return_t
fanout_on_warning(gearman_task_st *task)
{
	fanout_copy_t *c = gearman_task_context(task);
	const char *data = gearman_task_data(task);
	size_t size = gearman_task_data_size(task);

	if (c == NULL)
		return GEARMAN_SUCCESS;
	if (!c->done && data != NULL && size > 0 && size <= FANOUT_REASON_MAX &&
	    memchr(data, '\0', size) == NULL) {
		json_t *probe = json_stringn(data, size); /* NULL unless UTF-8 */

		if (probe != NULL) {
			free(c->warning);
			c->warning = gh_strndup(data, size);
			json_decref(probe);
		}
	}
	fanout_batch_tick(c->batch);
	return GEARMAN_SUCCESS;
}

static gearman_return_t
fanout_on_complete(gearman_task_st *task)
{
	fanout_copy_t *c = gearman_task_context(task);

	if (c != NULL) {
		fanout_copy_finish(c, NULL);
		fanout_batch_tick(c->batch);
	}
	return GEARMAN_SUCCESS;
}

static gearman_return_t
fanout_on_fail(gearman_task_st *task)
{
	fanout_copy_t *c = gearman_task_context(task);

	if (c != NULL) {
		char *why = c->warning;

		c->warning = NULL;
		fanout_copy_finish(c, why != NULL ? why : "Worker failure");
		free(why);
		fanout_batch_tick(c->batch);
	}
	return GEARMAN_SUCCESS;
}

/* A subscriber's job ended in WORK_EXCEPTION: its text is the reason, as
 * in gearhorn (which fell back to "Worker failure" without one). */
static gearman_return_t
fanout_on_exception(gearman_task_st *task)
{
	fanout_copy_t *c = gearman_task_context(task);

	if (c != NULL) {
		gearman_string_t e = gearman_task_exception(task);

		if (e.c_str != NULL && e.size > 0) {
			char *text = gh_strndup(e.c_str, e.size);

			fanout_copy_finish(c, text);
			free(text);
		} else {
			fanout_copy_finish(c, "Worker failure");
		}
		fanout_batch_tick(c->batch);
	}
	return GEARMAN_SUCCESS;
}

static void
fanout_client_drop(fanout_server_t *sv)
{
	if (sv->client != NULL) {
		gearman_client_task_free_all(sv->client);
		gearman_client_free(sv->client);
		sv->client = NULL;
	}
}

static void
fanout_clients_drop(fanout_t *f)
{
	size_t i;

	for (i = 0; f->gm != NULL && i < f->nservers; i++)
		fanout_client_drop(&f->gm[i]);
}

/* The client for job server s, connected to that server only. */
static gearman_client_st *
fanout_client_get(fanout_t *f, size_t s, char *err, size_t errlen)
{
	fanout_server_t *sv = &f->gm[s];
	char host[256];
	int port;

	if (sv->client != NULL)
		return sv->client;
	sv->client = gearman_client_create(NULL);
	if (sv->client == NULL) {
		gh_err(err, errlen, "cannot create a gearman client");
		return NULL;
	}
	gearman_client_set_identifier(sv->client, f->identifier, strlen(f->identifier));
	if (conf_parse_server(f->servers[s], host, sizeof(host), &port, err, errlen) < 0 ||
	    gearman_client_add_server(sv->client, host, (in_port_t)port) != GEARMAN_SUCCESS) {
		if (err[0] == '\0')
			gh_err(err, errlen, "%s", gearman_client_error(sv->client));
		fanout_client_drop(sv);
		return NULL;
	}
	gearman_client_set_created_fn(sv->client, fanout_on_created);
	gearman_client_set_data_fn(sv->client, fanout_on_progress);
	gearman_client_set_warning_fn(sv->client, fanout_on_warning);
	gearman_client_set_status_fn(sv->client, fanout_on_progress);
	gearman_client_set_complete_fn(sv->client, fanout_on_complete);
	gearman_client_set_fail_fn(sv->client, fanout_on_fail);
	gearman_client_set_exception_fn(sv->client, fanout_on_exception);
	/* Without this option gearmand sends a client nothing at all when a
	 * subscriber's job ends in WORK_EXCEPTION, and the copy would time
	 * out. */
	gearman_client_add_options(sv->client, GEARMAN_CLIENT_EXCEPTION);
	return sv->client;
}

/* ---- input checks ---- */

/* Checks one name used in a gearman function name. */
static int
fanout_check_name(const char *what, json_t *v, char *msg, size_t msglen)
{
	const char *s;
	size_t len, i;

	if (!json_is_string(v))
		return gh_err(msg, msglen, "%s must be a string", what);
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0)
		return gh_err(msg, msglen, "%s must not be empty", what);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch == 0x7f)
			return gh_err(msg, msglen,
			              "%s must not contain white space, control characters or NUL",
			              what);
	}
	return 0;
}

static json_t *
fanout_parse(const void *data, size_t len, char *msg, size_t msglen)
{
	json_error_t e;
	json_t *j;

	if (len == 0) {
		gh_err(msg, msglen, "invalid JSON: empty workload");
		return NULL;
	}
	j = json_loadb(data, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (j == NULL)
		gh_err(msg, msglen, "invalid JSON: %s (line %d, column %d)", e.text, e.line,
		       e.column);
	return j;
}

/* Python's truth value of a JSON value, as gearhorn tested "background". */
static int
fanout_truthy(json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0.0;
	case JSON_TRUE:
		return 1;
	default:
		return 0;
	}
}

/* A workload once read (fanout_read): views into its JSON. */
typedef struct {
	json_t *topic, *client; /* strings; client NULL for a fanout */
	json_t *payload;        /* any JSON; NULL but for a fanout */
	long ttl;               /* seconds; -1: not given (the default applies) */
	const char *unique;     /* NULL: none (gearmand makes one up) */
	int background;
} fanout_work_t;

/* ---- subscribe / unsubscribe ---- */

/* Returns 1 if "<topic>_<client>" is one of our own functions, so that a
 * fanout would feed us its payload as a request (or, with one thread, wait
 * on itself). */
static int
fanout_own_function(const char *topic, const char *client)
{
	char *name = gh_asprintf("%s_%s", topic, client);
	int i, own = strncmp(name, FANOUT_MM_TOPIC "_", strlen(FANOUT_MM_TOPIC) + 1) == 0;

	for (i = 0; i < FN_MATCHMAKING && !own; i++)
		own = strcmp(name, fanout_fn_names[i]) == 0;
	free(name);
	return own;
}

static void fanout_announce(fanout_t *f, const char *topic);

/* Reads a subscribe, register or unsubscribe workload j into w. Returns
 * FANOUT_COMPLETE, or FANOUT_EXCEPTION with msg. */
static fanout_status_t
fanout_read_sub(fanout_fn_t fn, json_t *j, fanout_work_t *w, char *msg, size_t msglen)
{
	json_t *topic, *client, *ttl;

	if (!json_is_object(j)) {
		gh_err(msg, msglen, "must be a mapping");
		return FANOUT_EXCEPTION;
	}
	topic = json_object_get(j, "topic");
	client = json_object_get(j, "client_id");
	if (topic == NULL || client == NULL) {
		gh_err(msg, msglen, "must have topic and client_id keys");
		return FANOUT_EXCEPTION;
	}
	if (fanout_check_name("topic", topic, msg, msglen) < 0 ||
	    fanout_check_name("client_id", client, msg, msglen) < 0)
		return FANOUT_EXCEPTION;
	if (strcmp(json_string_value(topic), FANOUT_MM_TOPIC) == 0) {
		gh_err(msg, msglen, "topic %s is reserved", FANOUT_MM_TOPIC);
		return FANOUT_EXCEPTION;
	}
	if (json_string_length(topic) + 1 + json_string_length(client) > FANOUT_FUNCTION_MAX) {
		gh_err(msg, msglen,
		       "topic and client_id must be at most %d bytes together (the function "
		       "name is topic_client_id)",
		       FANOUT_FUNCTION_MAX - 1);
		return FANOUT_EXCEPTION;
	}
	if (fn != FN_UNSUBSCRIBE &&
	    fanout_own_function(json_string_value(topic), json_string_value(client))) {
		gh_err(msg, msglen,
		       "topic_client_id would name a function of gearhorn-fanout itself");
		return FANOUT_EXCEPTION;
	}
	ttl = json_object_get(j, "ttl");
	if (ttl != NULL && !json_is_null(ttl) && fn != FN_UNSUBSCRIBE) {
		if (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
		    json_integer_value(ttl) > FANOUT_TTL_MAX) {
			gh_err(msg, msglen, "ttl must be an integer from 0 to %ld (seconds)",
			       FANOUT_TTL_MAX);
			return FANOUT_EXCEPTION;
		}
		w->ttl = (long)json_integer_value(ttl);
	}
	w->topic = topic;
	w->client = client;
	return FANOUT_COMPLETE;
}

static fanout_status_t
fanout_subunsub(fanout_t *f, fanout_fn_t fn, const fanout_work_t *w, char *msg, size_t msglen)
{
	json_t *topic = w->topic, *client = w->client;
	long ttl_s = w->ttl >= 0 ? w->ttl : __atomic_load_n(&f->default_ttl, __ATOMIC_RELAXED);
	int64_t now = (int64_t)time(NULL);
	char err[512];
	int rc;

	err[0] = '\0';
	if (fn == FN_UNSUBSCRIBE)
		rc = store_unsubscribe(f->store, json_string_value(topic),
		                       json_string_value(client), err, sizeof(err));
	else
		rc = store_subscribe(f->store, json_string_value(topic), json_string_value(client),
		                     ttl_s, now, err, sizeof(err));
	if (rc == STORE_TAKEN) {
		/* The client's mistake, not the store's: a warning with the
		 * workload, as for any bad input. */
		gh_err(msg, msglen, "%s", err);
		return FANOUT_EXCEPTION;
	}
	if (rc < 0) {
		/* A file gone from its path stays gone for this connection:
		 * only a restart opens what is there now. */
		const char *hint = rc == STORE_MOVED ? " (restart gearhorn-fanout)" : "";

		log_error("%s: %s%s", fanout_fn_names[fn], err, hint);
		gh_err(msg, msglen, "store error: %s%s", err, hint);
		return FANOUT_EXCEPTION;
	}
	if (f->cache != NULL)
		cache_drop(f->cache, json_string_value(topic));
	fanout_announce(f, json_string_value(topic));
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		char t[128], c[128];

		log_debug(
		    "%s %s %s", fanout_fn_names[fn],
		    log_escape(json_string_value(topic), json_string_length(topic), t, sizeof(t)),
		    log_escape(json_string_value(client), json_string_length(client), c,
		               sizeof(c)));
	}
	return FANOUT_COMPLETE;
}

/* ---- fanout ---- */

static int
fanout_subscribers(fanout_t *f, const char *topic, store_list_t *subs, char *err, size_t errlen)
{
	int64_t now = (int64_t)time(NULL);
	uint64_t gen = 0;

	if (f->cache != NULL) {
		if (cache_get(f->cache, topic, now, subs))
			return 0;
		gen = cache_generation(f->cache);
	}
	if (store_subscribers(f->store, topic, now, subs, err, errlen) < 0)
		return -1;
	if (f->cache != NULL)
		cache_put(f->cache, topic, subs, now, gen);
	return 0;
}

/* Builds gearhorn's error list [[client_id, message], ...] from the copies
 * that failed. Caller owns the result. */
static char *
fanout_error_list(fanout_copy_t *copies, size_t n, size_t *len)
{
	json_t *list = json_array();
	char *text;
	size_t i;

	for (i = 0; i < n; i++) {
		if (copies[i].error == NULL)
			continue;
		json_array_append_new(list,
		                      json_pack("[ss]", copies[i].client_id, copies[i].error));
	}
	text = json_dumps(list, 0);
	json_decref(list);
	if (text == NULL)
		text = gh_strdup("[]");
	*len = strlen(text);
	return text;
}

static size_t
fanout_count_errors(const fanout_copy_t *copies, size_t n)
{
	size_t i, errors = 0;

	for (i = 0; i < n; i++)
		errors += copies[i].error != NULL;
	return errors;
}

static int
fanout_connection_error(gearman_return_t rc)
{
	return rc == GEARMAN_LOST_CONNECTION || rc == GEARMAN_COULD_NOT_CONNECT ||
	       rc == GEARMAN_ERRNO || rc == GEARMAN_NO_ACTIVE_FDS || rc == GEARMAN_SERVER_ERROR;
}

/* What every copy of one fanout shares. */
typedef struct {
	const char *topic;
	const char *unique; /* the client's, NULL: none */
	/* A background fanout without a unique: its random id, the stem of
	 * its copies' (see fanout_submit); else empty. */
	char id[GH_UUID_LEN + 1];
	const void *payload; /* NULL when plen is 0, as libgearman wants it */
	size_t plen;
	int background;
} fanout_msg_t;

/* One attempt at submitting copies[first .. first + n) that are not done
 * yet to job server s. Returns the result of gearman_client_run_tasks
 * (GEARMAN_SUCCESS if nothing was left to run) and sets *created to the
 * number of copies gearmand accepted. */
static gearman_return_t
fanout_submit_once(fanout_t *f, size_t s, const fanout_msg_t *m, fanout_copy_t *copies,
                   size_t first, size_t n, size_t *created, char *why, size_t whylen)
{
	fanout_batch_t batch = {f, NULL, 0, 0, 0};
	gearman_return_t rc = GEARMAN_SUCCESS;
	char err[512] = "";
	size_t i, end = first + n;

	for (i = first; i < end; i++) {
		copies[i].batch = &batch;
		batch.pending += !copies[i].done;
	}
	*created = 0;
	batch.client = fanout_client_get(f, s, err, sizeof(err));
	if (batch.client == NULL) {
		for (i = first; i < end; i++)
			fanout_copy_finish(&copies[i], err);
		return GEARMAN_SUCCESS;
	}
	for (i = first; i < end; i++) {
		char *fn, own[GEARMAN_MAX_UNIQUE_SIZE];
		const char *unique = m->unique;
		gearman_task_st *task;

		if (copies[i].done)
			continue;
		if (m->id[0] != '\0') {
			snprintf(own, sizeof(own), "%s-%zx", m->id, i / FANOUT_UNIQUE_GROUP);
			unique = own;
		}
		fn = gh_asprintf("%s_%s", m->topic, copies[i].client_id);
		if (m->background)
			task = gearman_client_add_task_background(
			    batch.client, NULL, &copies[i], fn, unique, m->payload, m->plen, &rc);
		else
			task = gearman_client_add_task(batch.client, NULL, &copies[i], fn, unique,
			                               m->payload, m->plen, &rc);
		free(fn);
		if (task == NULL)
			fanout_copy_finish(&copies[i], gearman_client_error(batch.client));
	}
	rc = GEARMAN_SUCCESS;
	if (batch.pending > 0) {
		long timeout_ms = __atomic_load_n(&f->foreground_timeout_ms, __ATOMIC_RELAXED);

		/* deadline_ms == 0 tells fanout_on_created this is a background
		 * batch. */
		if (!m->background)
			batch.deadline_ms = gh_now_ms() + (uint64_t)timeout_ms;
		gearman_client_set_timeout(batch.client, (int)timeout_ms);
		rc = gearman_client_run_tasks(batch.client);
		if (rc == GEARMAN_SUCCESS && m->background) {
			/* run_tasks returns once every background task has its
			 * handle. */
			for (i = first; i < end; i++)
				fanout_copy_finish(&copies[i], NULL);
		}
	}
	*created = batch.created;
	if (rc != GEARMAN_SUCCESS)
		gh_strlcpy(why, gearman_client_error(batch.client), whylen);
	gearman_client_task_free_all(batch.client);
	/* After a timeout or an error the connection may still carry replies
	 * for tasks we no longer track: start afresh. */
	if (rc != GEARMAN_SUCCESS)
		fanout_client_drop(&f->gm[s]);
	return rc;
}

/* Marks copies[first .. end) that are not done as failed for reason. */
static void
fanout_fail_rest(fanout_copy_t *copies, size_t first, size_t end, const char *reason)
{
	size_t i;

	for (i = first; i < end; i++)
		if (!copies[i].done) {
			copies[i].done = 1;
			copies[i].error = gh_strdup(reason);
			free(copies[i].warning);
			copies[i].warning = NULL;
		}
}

/* Submits the copies of copies[first .. first + n) not done yet to job
 * server s and, in the foreground, waits for them. A batch that found its
 * connection dead before gearmand accepted any copy (gearmand restarted
 * since the last fanout) is tried once more on a new connection. A
 * foreground copy that the server accepted before the connection died
 * fails: it may have run. Returns the last result of
 * gearman_client_run_tasks. */
static gearman_return_t
fanout_submit_server(fanout_t *f, size_t s, const fanout_msg_t *m, fanout_copy_t *copies,
                     size_t first, size_t n, char *why, size_t whylen)
{
	fanout_server_t *sv = &f->gm[s];
	gearman_return_t rc;
	size_t i, created, pending;
	int attempt;

	for (attempt = 0;; attempt++) {
		why[0] = '\0';
		rc = fanout_submit_once(f, s, m, copies, first, n, &created, why, whylen);
		for (pending = 0, i = first; i < first + n; i++)
			pending += !copies[i].done;
		if (pending == 0 || attempt > 0 || created > 0 || !fanout_connection_error(rc))
			break;
		log_info("fanout: job server %s: connection lost (%s); submitting again",
		         f->servers[s], gearman_strerror(rc));
	}
	if (!fanout_connection_error(rc)) {
		sv->backoff = 0;
		sv->retry_at = 0;
		return rc;
	}
	if (why[0] == '\0')
		gh_strlcpy(why, gearman_strerror(rc), whylen);
	for (i = first; i < first + n; i++)
		if (copies[i].created && !copies[i].done)
			fanout_copy_finish(&copies[i], why);
	sv->backoff = sv->backoff == 0 ? FANOUT_BACKOFF_MIN_MS : sv->backoff * 2;
	if (sv->backoff > FANOUT_BACKOFF_MAX_MS)
		sv->backoff = FANOUT_BACKOFF_MAX_MS;
	sv->retry_at = gh_now_ms() + (uint64_t)sv->backoff;
	log_warn("fanout: job server %s: %s; copies go to the other servers, this one is "
	         "tried again in %ld ms",
	         f->servers[s], why, sv->backoff);
	return rc;
}

/* Submits copies[first .. first + n) and, in the foreground, waits for
 * them; fills each copy's outcome. Each copy goes to one job server: the
 * batch to the next server in turn, and the copies a server did not
 * accept because its connection died to the next one, servers that failed
 * lately last. A copy a server accepted is not sent again (it would be
 * queued twice); a copy no server accepted fails. Returns 0, or -1 if
 * every job server is out of reach, with the reason in why. */
static int
fanout_submit_batch(fanout_t *f, const fanout_msg_t *m, fanout_copy_t *copies, size_t first,
                    size_t n, char *why, size_t whylen)
{
	gearman_return_t rc = GEARMAN_SUCCESS;
	uint64_t now = gh_now_ms();
	size_t i, k, pending = n;
	int pass;

	why[0] = '\0';
	f->next_server = (f->next_server + 1) % f->nservers;
	f->batch_seq++;
	for (pass = 0; pass < 2 && pending > 0; pass++) {
		for (k = 0; k < f->nservers && pending > 0; k++) {
			size_t s = (f->next_server + k) % f->nservers;

			/* First the servers that answered last time, then the
			 * others. */
			if ((f->gm[s].retry_at > now) != (pass == 1) ||
			    f->gm[s].tried == f->batch_seq)
				continue;
			f->gm[s].tried = f->batch_seq;
			rc = fanout_submit_server(f, s, m, copies, first, n, why, whylen);
			for (pending = 0, i = first; i < first + n; i++)
				pending += !copies[i].done;
			if (!fanout_connection_error(rc))
				break;
		}
		if (!fanout_connection_error(rc))
			break;
	}
	if (pending == 0)
		return 0;
	if (rc == GEARMAN_TIMEOUT && !m->background)
		gh_strlcpy(why, "Worker timeout", whylen);
	else if (rc == GEARMAN_SUCCESS)
		gh_strlcpy(why, "no reply from the job server", whylen);
	else if (why[0] == '\0')
		gh_strlcpy(why, gearman_strerror(rc), whylen);
	fanout_fail_rest(copies, first, first + n, why);
	return fanout_connection_error(rc) ? -1 : 0;
}

/* Submits every copy of a fanout to the subscribers subs and, in the
 * foreground, waits for them. Fills each copy's outcome. */
static void
fanout_submit(fanout_t *f, const store_list_t *subs, const char *topic, const char *unique,
              const void *payload, size_t plen, int background, fanout_copy_t *copies)
{
	fanout_msg_t m = {topic, unique, "", plen > 0 ? payload : NULL, plen, background};
	char why[512];
	size_t i, first, n;

	/* A background fanout without a unique gets one random id, and each
	 * run of FANOUT_UNIQUE_GROUP copies a unique of its own made of that
	 * id and the run's place in the subscriber list. The copies go to
	 * different functions, so nothing coalesces; a copy submitted again
	 * after a lost connection is the same job to gearmand; libgearman
	 * makes no uuid per copy. gearmand keeps the jobs of one unique in one
	 * hash chain, which each new job of that unique walks: one unique for
	 * all K copies cost K^2 (40,000 subscribers: 22 s with gearmand at
	 * full CPU), one per copy a walk of a cold chain each (three times
	 * slower at 10 subscribers), a run of 64 sharing one the walk of a
	 * chain still in cache, linear in K. */
	if (background && unique == NULL)
		gh_uuid(m.id);
	for (i = 0; i < subs->n; i++) {
		copies[i].client_id = subs->items[i];
		copies[i].done = 0;
		copies[i].created = 0;
		copies[i].error = NULL;
		copies[i].warning = NULL;
	}
	/* In the background, at most FANOUT_BATCH copies at a time, each batch
	 * queued before the next is sent: libgearman walks its list of tasks
	 * for every reply, so one batch of K costs K^2, and gearmand serves
	 * its other clients between batches. A foreground fanout waits for
	 * all its copies at once, within one foreground_timeout. */
	for (first = 0; first < subs->n; first += n) {
		n = background && subs->n - first > FANOUT_BATCH ? FANOUT_BATCH : subs->n - first;
		if (fanout_submit_batch(f, &m, copies, first, n, why, sizeof(why)) < 0) {
			/* Out of reach for this batch: so it is for the rest. */
			fanout_fail_rest(copies, first + n, subs->n, why);
			break;
		}
	}
}

/* Reads a fanout workload j into w. Returns FANOUT_COMPLETE, or
 * FANOUT_EXCEPTION with msg. */
static fanout_status_t
fanout_read_fanout(json_t *j, fanout_work_t *w, char *msg, size_t msglen)
{
	json_t *topic, *payload, *unique, *bg;

	if (!json_is_object(j)) {
		gh_err(msg, msglen, "must be a JSON mapping.");
		return FANOUT_EXCEPTION;
	}
	topic = json_object_get(j, "topic");
	payload = json_object_get(j, "payload");
	if (topic == NULL || payload == NULL) {
		gh_err(msg, msglen, "must have topic and payload keys");
		return FANOUT_EXCEPTION;
	}
	if (fanout_check_name("topic", topic, msg, msglen) < 0)
		return FANOUT_EXCEPTION;
	if (strcmp(json_string_value(topic), FANOUT_MM_TOPIC) == 0) {
		gh_err(msg, msglen, "topic %s is reserved", FANOUT_MM_TOPIC);
		return FANOUT_EXCEPTION;
	}
	if (json_string_length(topic) + 2 > FANOUT_FUNCTION_MAX) {
		gh_err(msg, msglen, "topic must be at most %d bytes", FANOUT_FUNCTION_MAX - 2);
		return FANOUT_EXCEPTION;
	}
	unique = json_object_get(j, "unique");
	if (unique != NULL && !json_is_null(unique)) {
		if (!json_is_string(unique)) {
			gh_err(msg, msglen, "unique must be a string or null");
			return FANOUT_EXCEPTION;
		}
		if (json_string_length(unique) > FANOUT_UNIQUE_MAX ||
		    strlen(json_string_value(unique)) != json_string_length(unique)) {
			gh_err(msg, msglen, "unique must be at most %d bytes, without NUL",
			       FANOUT_UNIQUE_MAX);
			return FANOUT_EXCEPTION;
		}
		/* An empty unique is none, as with gearhorn: gearmand makes one up. */
		if (json_string_length(unique) > 0)
			w->unique = json_string_value(unique);
	}
	bg = json_object_get(j, "background");
	w->background = bg != NULL && fanout_truthy(bg);
	w->topic = topic;
	w->payload = payload;
	return FANOUT_COMPLETE;
}

static fanout_status_t
fanout_fanout(fanout_t *f, const fanout_work_t *w, char **out, size_t *outlen, char *msg,
              size_t msglen)
{
	json_t *topic = w->topic, *payload = w->payload;
	const char *unique_s = w->unique, *payload_s;
	char *payload_dump = NULL, err[512] = "";
	size_t plen, errors;
	store_list_t subs;
	fanout_copy_t *copies;
	int background = w->background;

	if (json_is_string(payload)) {
		payload_s = json_string_value(payload);
		plen = json_string_length(payload);
	} else {
		payload_dump = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
		if (payload_dump == NULL) {
			gh_err(msg, msglen, "payload cannot be encoded");
			return FANOUT_EXCEPTION;
		}
		payload_s = payload_dump;
		plen = strlen(payload_dump);
	}

	if (fanout_subscribers(f, json_string_value(topic), &subs, err, sizeof(err)) < 0) {
		log_error("fanout: %s", err);
		gh_err(msg, msglen, "store error: %s", err);
		free(payload_dump);
		return FANOUT_EXCEPTION;
	}
	copies = gh_calloc(subs.n ? subs.n : 1, sizeof(*copies));
	if (subs.n > 0)
		fanout_submit(f, &subs, json_string_value(topic), unique_s, payload_s, plen,
		              background, copies);
	errors = fanout_count_errors(copies, subs.n);
	if (errors > 0) {
		size_t i;

		*out = fanout_error_list(copies, subs.n, outlen);
		for (i = 0; i < subs.n; i++)
			free(copies[i].error);
	} else {
		/* gearhorn reports 0 for a background fanout: nothing was waited on. */
		*out = gh_asprintf("%zu", background ? (size_t)0 : subs.n);
		*outlen = strlen(*out);
	}
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		char t[128];

		log_debug(
		    "fanout %s: %zu subscribers, %zu failed, %s",
		    log_escape(json_string_value(topic), json_string_length(topic), t, sizeof(t)),
		    subs.n, errors, background ? "background" : "foreground");
	}
	free(copies);
	store_list_free(&subs);
	free(payload_dump);
	return errors > 0 ? FANOUT_EXCEPTION : FANOUT_COMPLETE;
}

/* ---- matchmaking ---- */

/* Tells the other fanout workers sharing the store that topic changed, by
 * a background fanout of the topic name to __matchmaking (ourselves left
 * out). Failures are logged: the change itself has succeeded, and the
 * others' caches age out anyway. */
static void
fanout_announce(fanout_t *f, const char *topic)
{
	store_list_t subs, others;
	fanout_copy_t *copies;
	char err[512];
	size_t i;

	if (f->instance == NULL)
		return;
	if (store_subscribers(f->store, FANOUT_MM_TOPIC, (int64_t)time(NULL), &subs, err,
	                      sizeof(err)) < 0) {
		log_warn("matchmaking: %s", err);
		return;
	}
	others.items = gh_calloc(subs.n + 1, sizeof(char *));
	others.n = 0;
	for (i = 0; i < subs.n; i++)
		if (strcmp(subs.items[i], f->instance) != 0)
			others.items[others.n++] = subs.items[i];
	copies = gh_calloc(others.n + 1, sizeof(*copies));
	if (others.n > 0)
		fanout_submit(f, &others, FANOUT_MM_TOPIC, NULL, topic, strlen(topic), 1, copies);
	for (i = 0; i < others.n; i++) {
		if (copies[i].error != NULL) {
			char e[256];

			log_warn(
			    "matchmaking: cannot tell %s: %s", copies[i].client_id,
			    log_escape(copies[i].error, strlen(copies[i].error), e, sizeof(e)));
			free(copies[i].error);
		}
	}
	free(copies);
	free(others.items);
	store_list_free(&subs);
}

/* A job for __matchmaking_<instance>: its workload names the topic whose
 * subscribers changed (empty: any topic). */
static void
fanout_matchmaking(fanout_t *f, const void *data, size_t len)
{
	char *topic;

	if (f->cache == NULL)
		return;
	if (len == 0) {
		cache_clear(f->cache);
		return;
	}
	topic = gh_strndup(data, len);
	cache_drop(f->cache, topic);
	free(topic);
}

/* Periodic work between jobs: sweep expired subscriptions, and renew our
 * own __matchmaking subscription well before it expires. */
static void
fanout_housekeeping(fanout_t *f)
{
	int64_t now = (int64_t)time(NULL);
	char err[512];

	if (now >= f->next_sweep) {
		int n = store_expire(f->store, now, err, sizeof(err));

		if (n < 0)
			log_msg(n == STORE_MOVED ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "sweep: %s%s",
			        err, n == STORE_MOVED ? " (restart gearhorn-fanout)" : "");
		else if (n > 0)
			log_info("sweep: %d expired subscriptions removed", n);
		f->next_sweep = now + FANOUT_SWEEP_INTERVAL;
	}
	if (f->instance != NULL && now >= f->next_refresh) {
		if (store_subscribe(f->store, FANOUT_MM_TOPIC, f->instance, f->mm_ttl, now, err,
		                    sizeof(err)) < 0)
			log_warn("matchmaking: %s", err);
		f->next_refresh = now + (f->mm_ttl / 3 > 0 ? f->mm_ttl / 3 : 1);
	}
}

/* ---- dispatch ---- */

/* Reads the workload of fn (not FN_MATCHMAKING; len bytes at data,
 * borrowed) into w. Returns the JSON that w points into (caller owns it),
 * or NULL with msg. */
static json_t *
fanout_read(fanout_fn_t fn, const void *data, size_t len, fanout_work_t *w, char *msg,
            size_t msglen)
{
	json_t *j = fanout_parse(data, len, msg, msglen);
	fanout_status_t st;

	if (j == NULL)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->ttl = -1;
	st = fn == FN_FANOUT ? fanout_read_fanout(j, w, msg, msglen)
	                     : fanout_read_sub(fn, j, w, msg, msglen);
	if (st != FANOUT_COMPLETE) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The function of the workloads named fn; FN_COUNT if none is. */
static fanout_fn_t
fanout_fn_lookup(const char *fn)
{
	int i;

	for (i = 0; i < FN_MATCHMAKING; i++)
		if (strcmp(fn, fanout_fn_names[i]) == 0)
			return (fanout_fn_t)i;
	return FN_COUNT;
}

static fanout_status_t
fanout_dispatch(fanout_t *f, fanout_fn_t fn, const void *data, size_t len, char **out,
                size_t *outlen)
{
	char msg[1024] = "";
	fanout_status_t st;
	fanout_work_t w;
	json_t *j;

	*out = NULL;
	*outlen = 0;
	if (fn == FN_MATCHMAKING) {
		fanout_matchmaking(f, data, len);
		return FANOUT_COMPLETE;
	}
	j = fanout_read(fn, data, len, &w, msg, sizeof(msg));
	if (j == NULL)
		st = FANOUT_EXCEPTION;
	else if (fn == FN_FANOUT)
		st = fanout_fanout(f, &w, out, outlen, msg, sizeof(msg));
	else
		st = fanout_subunsub(f, fn, &w, msg, sizeof(msg));
	json_decref(j);
	if (st == FANOUT_EXCEPTION && *out == NULL) {
		/* Bad input (or a store error): one line in the log, the message to
		 * the client. Failed copies are logged by the caller's client. */
		char quoted[FANOUT_LOG_WORKLOAD * 4 + 8], m[sizeof(msg) * 2];

		log_warn("%s: %s; workload \"%s\"", fanout_fn_names[fn],
		         log_escape(msg, strlen(msg), m, sizeof(m)),
		         log_escape(data, len < FANOUT_LOG_WORKLOAD ? len : FANOUT_LOG_WORKLOAD + 1,
		                    quoted, FANOUT_LOG_WORKLOAD + 4));
		*out = gh_strdup(msg);
		*outlen = strlen(msg);
	} else if (st == FANOUT_EXCEPTION) {
		char m[512];

		log_notice("%s: copies failed: %s", fanout_fn_names[fn],
		           log_escape(*out, *outlen, m, sizeof(m)));
	}
	return st;
}

fanout_status_t
fanout_handle(fanout_t *f, const char *fn, const void *data, size_t len, char **out, size_t *outlen)
{
	fanout_fn_t i = fanout_fn_lookup(fn);

	if (i != FN_COUNT)
		return fanout_dispatch(f, i, data, len, out, outlen);
	*out = gh_asprintf("unknown function %s", fn);
	*outlen = strlen(*out);
	return FANOUT_EXCEPTION;
}

int
fanout_check_workload(const char *fn, const void *data, size_t len, char *msg, size_t msglen)
{
	fanout_fn_t i = fanout_fn_lookup(fn);
	fanout_work_t w;
	json_t *j;

	if (i == FN_COUNT)
		return gh_err(msg, msglen, "unknown function %s", fn);
	if ((j = fanout_read(i, data, len, &w, msg, msglen)) == NULL)
		return -1;
	json_decref(j);
	return 0;
}

static void *
fanout_job(gearman_job_st *job, void *context, size_t *result_size, gearman_return_t *ret_ptr)
{
	fanout_fn_ctx_t *ctx = context;
	char *out;
	size_t outlen;

	if (fanout_dispatch(ctx->f, ctx->fn, gearman_job_workload(job),
	                    gearman_job_workload_size(job), &out, &outlen) == FANOUT_COMPLETE) {
		*result_size = outlen;
		*ret_ptr = GEARMAN_SUCCESS;
		return out;
	}
	/* gearmand passes WORK_EXCEPTION only to clients that asked for
	 * exceptions and leaves every other client waiting for ever; and once
	 * libgearman has sent it, no WORK_FAIL can follow. So the reason goes
	 * as WORK_WARNING, which every client gets, and the job ends with
	 * WORK_FAIL. */
	if (gearman_job_send_warning(job, out, outlen) != GEARMAN_SUCCESS)
		log_warn("%s: cannot send the reason of a failure", fanout_fn_names[ctx->fn]);
	*ret_ptr = GEARMAN_WORK_FAIL;
	ctx->f->failed = 1;
	free(out);
	*result_size = 0;
	return NULL;
}

/* ---- life cycle ---- */

void
fanout_reconfigure(fanout_t *f, const conf_t *conf)
{
	__atomic_store_n(&f->foreground_timeout_ms,
	                 conf_get_int(conf, "fanout", "foreground_timeout") * 1000,
	                 __ATOMIC_RELAXED);
	__atomic_store_n(&f->default_ttl, conf_get_int(conf, "fanout", "subscription_ttl"),
	                 __ATOMIC_RELAXED);
}

fanout_t *
fanout_new(const conf_t *conf, const char *db_path, cache_t *cache, const char *instance, char *err,
           size_t errlen)
{
	fanout_t *f = gh_calloc(1, sizeof(*f));
	char host[64] = "localhost";
	size_t i;
	int port;

	f->cache = cache;
	if (instance != NULL) {
		f->instance = gh_strdup(instance);
		f->mm_function = gh_asprintf("%s_%s", FANOUT_MM_TOPIC, instance);
		f->mm_ttl = conf_get_int(conf, "fanout", "matchmaking_ttl");
	}
	f->foreground_timeout_ms = conf_get_int(conf, "fanout", "foreground_timeout") * 1000;
	f->default_ttl = conf_get_int(conf, "fanout", "subscription_ttl");
	f->servers = conf_get_list(conf, "fanout", "gearman_servers", &f->nservers);
	gethostname(host, sizeof(host) - 1);
	snprintf(f->identifier, sizeof(f->identifier), "gearhorn-fanout_%s_%ld", host,
	         (long)getpid());
	if (f->nservers == 0) {
		gh_err(err, errlen, "no gearman servers configured ([global] gearman_servers)");
		goto fail;
	}
	f->gm = gh_calloc(f->nservers, sizeof(*f->gm));
	f->store = store_open(db_path, err, errlen);
	if (f->store == NULL)
		goto fail;
	f->worker = gearman_worker_create(NULL);
	if (f->worker == NULL) {
		gh_err(err, errlen, "cannot create a gearman worker");
		goto fail;
	}
	gearman_worker_set_identifier(f->worker, f->identifier, strlen(f->identifier));
	gearman_worker_set_timeout(f->worker, FANOUT_POLL_MS);
	for (i = 0; i < f->nservers; i++) {
		if (conf_parse_server(f->servers[i], host, sizeof(host), &port, err, errlen) < 0)
			goto fail;
		if (gearman_worker_add_server(f->worker, host, (in_port_t)port) !=
		    GEARMAN_SUCCESS) {
			gh_err(err, errlen, "%s: %s", f->servers[i],
			       gearman_worker_error(f->worker));
			goto fail;
		}
	}
	for (i = 0; i < FN_COUNT; i++) {
		const char *name = i == FN_MATCHMAKING ? f->mm_function : fanout_fn_names[i];

		f->fn_ctx[i].f = f;
		f->fn_ctx[i].fn = (fanout_fn_t)i;
		if (name == NULL)
			continue;
		if (gearman_worker_add_function(f->worker, name, 0, fanout_job, &f->fn_ctx[i]) !=
		    GEARMAN_SUCCESS) {
			gh_err(err, errlen, "cannot register %s: %s", fanout_fn_names[i],
			       gearman_worker_error(f->worker));
			goto fail;
		}
	}
	return f;
fail:
	fanout_destroy(&f);
	return NULL;
}

void
fanout_destroy(fanout_t **self_p)
{
	fanout_t *f;

	if (self_p == NULL || *self_p == NULL)
		return;
	f = *self_p;
	fanout_clients_drop(f);
	free(f->gm);
	if (f->worker != NULL)
		gearman_worker_free(f->worker);
	store_destroy(&f->store);
	conf_list_free(f->servers, f->nservers);
	free(f->instance);
	free(f->mm_function);
	free(f);
	*self_p = NULL;
}

/* Sleeps ms milliseconds in short steps, returning early once *stop is set. */
static void
fanout_sleep(long ms, volatile sig_atomic_t *stop)
{
	while (ms > 0 && !__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
		long step = ms < 100 ? ms : 100;
		struct timespec ts = {0, step * 1000000L};

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

int
fanout_run(fanout_t *f, volatile sig_atomic_t *stop)
{
	long backoff = 0;
	gearman_return_t last = GEARMAN_SUCCESS;
	uint64_t last_warn = 0;
	int trouble = 0;

	/* *stop is written by another thread: read it as an atomic. */
	while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
		gearman_return_t rc;
		log_level_t lvl;

		fanout_housekeeping(f);
		rc = gearman_worker_work(f->worker);
		/* After a job that ended with WORK_FAIL, libgearman reports
		 * that job's failure (GEARMAN_WORK_FAIL, or in 1.1.20
		 * GEARMAN_UNKNOWN_STATE): the connection is fine. */
		if (f->failed && (rc == GEARMAN_WORK_FAIL || rc == GEARMAN_UNKNOWN_STATE))
			rc = GEARMAN_SUCCESS;
		f->failed = 0;

		switch (rc) {
		case GEARMAN_SUCCESS:
			if (trouble)
				log_notice("gearman worker: serving jobs again");
			trouble = 0;
			backoff = 0;
			continue;
		case GEARMAN_TIMEOUT:
		case GEARMAN_IO_WAIT:
			/* Idle: look at the stop flag. The next error starts
			 * with a short wait again. */
			backoff = 0;
			continue;
		default:
			break;
		}
		/* Lost or no job server (GEARMAN_LOST_CONNECTION,
		 * GEARMAN_COULD_NOT_CONNECT, GEARMAN_NO_ACTIVE_FDS, ...):
		 * libgearman reconnects on the next call; we wait first. The
		 * client connection is most likely dead too: drop it. */
		fanout_clients_drop(f);
		backoff = backoff == 0 ? FANOUT_BACKOFF_MIN_MS : backoff * 2;
		if (backoff > FANOUT_BACKOFF_MAX_MS)
			backoff = FANOUT_BACKOFF_MAX_MS;
		/* A warning when the trouble starts or changes, and once a
		 * minute while it lasts; the retries in between at debug
		 * level. */
		if (rc != last || !trouble || gh_now_ms() - last_warn >= 60000) {
			lvl = LOG_LEVEL_WARN;
			last_warn = gh_now_ms();
		} else {
			lvl = LOG_LEVEL_DEBUG;
		}
		trouble = 1;
		log_msg(lvl, "gearman worker: %s; retrying in %ld ms",
		        gearman_worker_error(f->worker) ? gearman_worker_error(f->worker)
		                                        : gearman_strerror(rc),
		        backoff);
		last = rc;
		fanout_sleep(backoff, stop);
	}
	if (f->instance != NULL) {
		char err[512];

		if (store_unsubscribe(f->store, FANOUT_MM_TOPIC, f->instance, err, sizeof(err)) < 0)
			log_warn("matchmaking: %s", err);
	}
	return 0;
}
