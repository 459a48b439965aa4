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

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "cache.h"
#include "conf.h"
#include "log.h"
#include "util.h"
#include "worker.h"

/* How long a cached subscriber list may be used before the database is
 * asked again. Matchmaking tells us of changes made by other processes;
 * this bounds how long one goes unseen if that message is lost. */
#define FANOUT_CACHE_MAX_AGE 60

extern char **environ;

static volatile sig_atomic_t fanout_stop;

/* The options that override the configuration file, kept for reloads. */
typedef struct {
	const char *config, *database, *level;
	char *servers;
} fanout_opts_t;

/* Loads the configuration with the command line's overrides. Caller owns
 * the result; NULL with the reason in err. */
static conf_t *
fanout_load_conf(const fanout_opts_t *o, char *err, size_t errlen)
{
	conf_t *conf = conf_load(o->config, environ, err, errlen);
	log_level_t lvl;

	if (conf == NULL ||
	    (o->database &&
	     conf_set(conf, "fanout", "database", o->database, NULL, err, errlen) < 0) ||
	    (o->level && conf_set(conf, "fanout", "log_level", o->level, NULL, err, errlen) < 0) ||
	    (o->servers &&
	     conf_set(conf, "fanout", "gearman_servers", o->servers, NULL, err, errlen) < 0)) {
		conf_destroy(&conf);
		return NULL;
	}
	if (log_level_parse(conf_get(conf, "fanout", "log_level"), &lvl) < 0) {
		snprintf(err, errlen, "bad log level \"%s\"",
		         conf_get(conf, "fanout", "log_level"));
		conf_destroy(&conf);
		return NULL;
	}
	return conf;
}

/* SIGHUP: loads the configuration again and applies what can change while
 * running; keeps the old one if the new one is bad. */
static void
fanout_reload(const fanout_opts_t *o, conf_t **conf, fanout_t **workers, long nthreads)
{
	static const char *const restart_keys[] = {
	    "gearman_servers", "threads", "database", "state_dir", "log_target", "matchmaking_ttl"};
	char err[1024];
	log_level_t lvl;
	conf_t *fresh;
	size_t k;
	long i;

	if ((fresh = fanout_load_conf(o, err, sizeof(err))) == NULL) {
		log_error("reload: %s; keeping the previous configuration", err);
		return;
	}
	for (k = 0; k < GH_ARRAY_LEN(restart_keys); k++)
		if (strcmp(conf_get(fresh, "fanout", restart_keys[k]),
		           conf_get(*conf, "fanout", restart_keys[k])) != 0)
			log_warn("reload: [fanout] %s changed from \"%s\" to \"%s\"; it takes "
			         "effect after a restart",
			         restart_keys[k], conf_get(*conf, "fanout", restart_keys[k]),
			         conf_get(fresh, "fanout", restart_keys[k]));
	log_level_parse(conf_get(fresh, "fanout", "log_level"), &lvl);
	log_set_level(lvl);
	for (i = 0; i < nthreads; i++)
		fanout_reconfigure(workers[i], fresh);
	log_notice("reloaded the configuration: log_level %s, foreground_timeout %s s, "
	           "subscription_ttl %s s",
	           conf_get(fresh, "fanout", "log_level"),
	           conf_get(fresh, "fanout", "foreground_timeout"),
	           conf_get(fresh, "fanout", "subscription_ttl"));
	log_debug("reload: debug logging is on");
	conf_destroy(conf);
	*conf = fresh;
}

static void
usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: gearhorn-fanout [-hV] [-c file] [-d database] [-l level] [-s host:port ...]\n"
	    "  -c, --config FILE    configuration file\n"
	    "  -d, --database PATH  subscriber database ([fanout] database)\n"
	    "  -l, --log-level LVL  error, warn, notice, info or debug ([global] log_level)\n"
	    "  -s, --server H:P     gearman job server; repeatable ([global] gearman_servers)\n"
	    "  -h, --help           show this help\n"
	    "  -V, --version        show the version\n");
}

static void *
fanout_thread(void *arg)
{
	fanout_t *f = arg;

	fanout_run(f, &fanout_stop);
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
	                                     {"database", required_argument, NULL, 'd'},
	                                     {"log-level", required_argument, NULL, 'l'},
	                                     {"server", required_argument, NULL, 's'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {"version", no_argument, NULL, 'V'},
	                                     {NULL, 0, NULL, 0}};
	fanout_opts_t o = {NULL, NULL, NULL, NULL};
	char *db_path = NULL, err[1024], instance[GH_UUID_LEN + 1];
	fanout_t **workers = NULL;
	pthread_t *threads = NULL;
	sigset_t sigs;
	log_level_t lvl;
	cache_t *cache = NULL;
	conf_t *conf;
	long nthreads, i, started = 0;
	int c, status = EX_OK;

	log_open("gearhorn-fanout", LOG_LEVEL_INFO, 0);
	while ((c = getopt_long(argc, argv, "c:d:l:s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 'd':
			o.database = optarg;
			break;
		case 'l':
			o.level = optarg;
			break;
		case 's':
			gh_list_append(&o.servers, optarg);
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("gearhorn-fanout %s\n", PACKAGE_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			free(o.servers);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		free(o.servers);
		return EX_USAGE;
	}

	if ((conf = fanout_load_conf(&o, err, sizeof(err))) == NULL) {
		fprintf(stderr, "gearhorn-fanout: %s\n", err);
		free(o.servers);
		return EX_CONFIG;
	}
	log_level_parse(conf_get(conf, "fanout", "log_level"), &lvl);
	log_open("gearhorn-fanout", lvl,
	         strcmp(conf_get(conf, "fanout", "log_target"), "syslog") == 0);

	/* Blocked here, so in every thread; the main thread takes them with
	 * sigwait below. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	db_path = fanout_db_path(conf);
	gh_uuid(instance);
	cache = cache_new(FANOUT_CACHE_MAX_AGE);
	nthreads = conf_get_int(conf, "fanout", "threads");
	workers = gh_calloc((size_t)nthreads, sizeof(*workers));
	threads = gh_calloc((size_t)nthreads, sizeof(*threads));
	for (i = 0; i < nthreads; i++) {
		workers[i] = fanout_new(conf, db_path, cache, instance, err, sizeof(err));
		if (workers[i] == NULL) {
			log_error("%s", err);
			status = strstr(err, "gearman servers") ? EX_CONFIG : EX_CANTCREAT;
			goto out;
		}
	}
	log_notice("serving %s with %ld threads, database %s, matchmaking id %s",
	           conf_get(conf, "fanout", "gearman_servers"), nthreads, db_path, instance);
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&threads[i], NULL, fanout_thread, workers[i]) != 0) {
			log_error("cannot start a worker thread");
			status = EX_OSERR;
			__atomic_store_n(&fanout_stop, 1, __ATOMIC_RELEASE);
			break;
		}
		started++;
	}
	while (!fanout_stop) {
		int sig;

		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			fanout_reload(&o, &conf, workers, nthreads);
		else
			__atomic_store_n(&fanout_stop, 1, __ATOMIC_RELEASE);
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	log_notice("stopped");
out:
	for (i = 0; i < nthreads; i++)
		fanout_destroy(&workers[i]);
	free(workers);
	free(threads);
	cache_destroy(&cache);
	free(db_path);
	free(o.servers);
	conf_destroy(&conf);
	return status;
}
