/*
 * gearhorn-fanout: the fanout worker for gearmand (see gearhorn-fanout(8)).
 *
 * main() reads the options and the configuration, opens the log, starts
 * [fanout] threads workers that share one subscriber cache, and waits for
 * SIGTERM or SIGINT; each worker finishes the job in hand and returns.
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

static void
on_signal(int sig)
{
	GH_UNUSED(sig);
	fanout_stop = 1;
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
	const char *config = NULL, *database = NULL, *level = NULL;
	char *servers = NULL, *db_path = NULL, err[1024], instance[GH_UUID_LEN + 1];
	fanout_t **workers = NULL;
	pthread_t *threads = NULL;
	struct sigaction sa;
	log_level_t lvl;
	cache_t *cache = NULL;
	conf_t *conf;
	long nthreads, i, started = 0;
	int c, status = EX_OK;

	log_open("gearhorn-fanout", LOG_LEVEL_INFO, 0);
	while ((c = getopt_long(argc, argv, "c:d:l:s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			database = optarg;
			break;
		case 'l':
			level = optarg;
			break;
		case 's': {
			char *joined = gh_asprintf("%s%s%s", servers ? servers : "",
			                           servers ? "," : "", optarg);

			free(servers);
			servers = joined;
			break;
		}
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("gearhorn-fanout %s\n", PACKAGE_VERSION);
			return EX_OK;
		default:
			usage(stderr);
			free(servers);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		free(servers);
		return EX_USAGE;
	}

	conf = conf_load(config, environ, err, sizeof(err));
	if (conf == NULL ||
	    (database &&
	     conf_set(conf, "fanout", "database", database, NULL, err, sizeof(err)) < 0) ||
	    (level && conf_set(conf, "fanout", "log_level", level, NULL, err, sizeof(err)) < 0) ||
	    (servers &&
	     conf_set(conf, "fanout", "gearman_servers", servers, NULL, err, sizeof(err)) < 0)) {
		fprintf(stderr, "gearhorn-fanout: %s\n", err);
		conf_destroy(&conf);
		free(servers);
		return EX_CONFIG;
	}
	free(servers);
	if (log_level_parse(conf_get(conf, "fanout", "log_level"), &lvl) < 0)
		lvl = LOG_LEVEL_INFO;
	log_open("gearhorn-fanout", lvl,
	         strcmp(conf_get(conf, "fanout", "log_target"), "syslog") == 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

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
			fanout_stop = 1;
			break;
		}
		started++;
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
	conf_destroy(&conf);
	return status;
}
