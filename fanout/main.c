/*
 * gearhorn-fanout: the fanout worker for gearmand (see gearhorn-fanout(8)).
 *
 * main() reads the options and the configuration, opens the log, starts
 * [fanout] threads workers that share one subscriber cache, and waits for
 * signals with sigwait (they are blocked in every thread): SIGHUP reloads
 * the configuration, SIGTERM or SIGINT stop the workers, each of which
 * finishes the job in hand and returns.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cache.h"
#include "conf.h"
#include "log.h"
#include "startup.h"
#include "util.h"
#include "worker.h"

/* How long a cached subscriber list may be used before the database is
 * asked again. Matchmaking tells us of changes made by other processes;
 * this bounds how long one goes unseen if that message is lost. */
#define FANOUT_CACHE_MAX_AGE 60

static const startup_option_t fanout_options[] = {
    {'d', "database", "PATH", "database", 0, "subscriber database ([fanout] database)"},
    {'s', "server", "H:P", "gearman_servers", 1,
     "gearman job server; repeatable ([global] gearman_servers)"},
};
static const startup_program_t fanout_program = {"gearhorn-fanout", "fanout", fanout_options,
                                                 GH_ARRAY_LEN(fanout_options)};

static volatile sig_atomic_t fanout_stop;

/* The process: its configuration and its worker threads. */
typedef struct {
	startup_t *startup;
	conf_t *conf;
	sigset_t sigs; /* taken by sigwait in the main thread */
	char *db_path;
	char instance[GH_UUID_LEN + 1];
	cache_t *cache;
	fanout_t **workers;
	pthread_t *threads;
	long nthreads, started;
} fanout_main_t;

/* SIGHUP: loads the configuration again and applies what can change while
 * running; keeps the old one if the new one is bad. */
static void
fanout_reload(fanout_main_t *m)
{
	static const char *const restart[] = {"gearman_servers", "threads",         "database",
	                                      "state_dir",       "matchmaking_ttl", NULL};
	conf_t *fresh = startup_reload(m->startup, m->conf, restart);
	long i;

	if (fresh == NULL)
		return;
	for (i = 0; i < m->nthreads; i++)
		fanout_reconfigure(m->workers[i], fresh);
	log_notice("reloaded the configuration: log_level %s, foreground_timeout %s s, "
	           "subscription_ttl %s s",
	           conf_get(fresh, "fanout", "log_level"),
	           conf_get(fresh, "fanout", "foreground_timeout"),
	           conf_get(fresh, "fanout", "subscription_ttl"));
	log_debug("reload: debug logging is on");
	conf_destroy(&m->conf);
	m->conf = fresh;
}

/* Blocks the signals here, so in every thread started later; the main
 * thread takes them with sigwait in fanout_wait. */
static void
fanout_block_signals(fanout_main_t *m)
{
	sigemptyset(&m->sigs);
	sigaddset(&m->sigs, SIGTERM);
	sigaddset(&m->sigs, SIGINT);
	sigaddset(&m->sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &m->sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Creates the [fanout] threads workers, sharing one cache and one
 * matchmaking instance. Returns 0 or an exit status. */
static int
fanout_create_workers(fanout_main_t *m)
{
	char err[1024], **servers;
	gh_error_t e;
	size_t n;
	long i;

	if ((servers = startup_gearman_servers(m->conf, "fanout", &n, &e)) == NULL) {
		return startup_log_fail(&e);
	}
	conf_list_free(servers, n);
	m->db_path = fanout_db_path(m->conf);
	gh_uuid(m->instance);
	m->cache = cache_new(FANOUT_CACHE_MAX_AGE);
	m->nthreads = conf_get_int(m->conf, "fanout", "threads");
	m->workers = gh_calloc((size_t)m->nthreads, sizeof(*m->workers));
	m->threads = gh_calloc((size_t)m->nthreads, sizeof(*m->threads));
	for (i = 0; i < m->nthreads; i++) {
		m->workers[i] =
		    fanout_new(m->conf, m->db_path, m->cache, m->instance, err, sizeof(err));
		if (m->workers[i] == NULL) {
			log_error("%s", err);
			return EX_CANTCREAT;
		}
	}
	log_notice("serving %s with %ld threads, database %s, matchmaking id %s",
	           conf_get(m->conf, "fanout", "gearman_servers"), m->nthreads, m->db_path,
	           m->instance);
	return 0;
}

static void *
fanout_thread(void *arg)
{
	fanout_t *f = arg;

	fanout_run(f, &fanout_stop);
	return NULL;
}

/* Starts a thread per worker. Returns 0, or EX_OSERR with the stop flag
 * set if one cannot start (those started are joined as usual). */
static int
fanout_start_threads(fanout_main_t *m)
{
	for (long i = 0; i < m->nthreads; i++) {
		if (pthread_create(&m->threads[i], NULL, fanout_thread, m->workers[i]) != 0) {
			log_error("cannot start a worker thread");
			__atomic_store_n(&fanout_stop, 1, __ATOMIC_RELEASE);
			return EX_OSERR;
		}
		m->started++;
	}
	return 0;
}

/* Takes the signals until one says stop; then waits for the threads, each
 * finishing the job in hand. */
static void
fanout_wait(fanout_main_t *m)
{
	while (!fanout_stop) {
		int sig;

		if (sigwait(&m->sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			fanout_reload(m);
		else
			__atomic_store_n(&fanout_stop, 1, __ATOMIC_RELEASE);
	}
	for (long i = 0; i < m->started; i++)
		pthread_join(m->threads[i], NULL);
	log_notice("stopped");
}

static void
fanout_free(fanout_main_t *m)
{
	for (long i = 0; i < m->nthreads; i++)
		fanout_destroy(&m->workers[i]);
	free(m->workers);
	free(m->threads);
	cache_destroy(&m->cache);
	free(m->db_path);
	conf_destroy(&m->conf);
	startup_destroy(&m->startup);
}

int
main(int argc, char **argv)
{
	fanout_main_t m;
	int rc;

	memset(&m, 0, sizeof(m));
	m.startup = startup_new(&fanout_program);
	rc = startup_begin(m.startup, argc, argv, &m.conf);
	if (rc == STARTUP_RUN) {
		fanout_block_signals(&m);
		if ((rc = fanout_create_workers(&m)) == 0) {
			rc = fanout_start_threads(&m);
			fanout_wait(&m);
		}
	}
	fanout_free(&m);
	return rc;
}
