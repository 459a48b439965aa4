/*
 * harness.h: starts and stops real servers for integration tests.
 * Servers listen on free loopback ports and are stopped by their pid.
 */
#ifndef GEARHORN_TEST_HARNESS_H
#define GEARHORN_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* Returns a TCP port on 127.0.0.1 that was free when asked, or -1. */
int harness_free_port(void);

typedef struct {
	pid_t pid;      /* 0 when not running */
	int port;       /* the loopback port it listens on */
	char dir[1024]; /* private directory for its log and pid files (files.h) */
	char addr[64];  /* "127.0.0.1:PORT" */
} harness_gearmand_t;

/* Path of gearmand: $GEARMAND, else /usr/sbin/gearmand; NULL if not executable. Borrowed. */
const char *harness_gearmand_path(void);

/* Starts gearmand on a free loopback port (port 0) or the given one, in a
 * fresh directory (gh_tmpdir_make), and waits until it answers the admin
 * protocol. Returns 0, or -1 with a message on stderr. */
int harness_gearmand_start(harness_gearmand_t *g, int port);

/* Stops it by pid (SIGTERM, then SIGKILL after 10 s), reaps it and removes
 * its directory unless keep_dir. Accepts a never-started g. */
void harness_gearmand_stop(harness_gearmand_t *g, int keep_dir);

/* Sends one gearman admin text command ("status\n") and returns the reply up
 * to the terminating ".\n" line (caller owns), or NULL on error. */
char *harness_gearmand_admin(const harness_gearmand_t *g, const char *command);

typedef struct {
	pid_t pid;      /* the postmaster's, from postmaster.pid; 0 when not running */
	char dir[1024]; /* private directory: data/, the Unix socket, the logs */
	char uri[1200]; /* postgresql:// URI of the database "postgres" over that socket */
} harness_pg_t;

/* The directory holding initdb and pg_ctl: $PG_BINDIR (only, when set), else the newest
 * /usr/lib/postgresql/N/bin (Debian's postgresql package), else the directory
 * of pg_ctl on PATH. Borrowed (static); NULL when PostgreSQL is absent. */
const char *harness_pg_bindir(void);

/* Starts a private PostgreSQL cluster in a fresh directory (gh_tmpdir_make)
 * listening on a Unix socket there only (listen_addresses=''), as the
 * postgres user when we are root, and waits until it accepts connections.
 * Returns 0; 1 when PostgreSQL (or, as root, the postgres user) is absent,
 * which a test reports as a skip; -1 with a message on stderr. */
int harness_pg_start(harness_pg_t *pg);

/* Stops the cluster by the postmaster's pid (SIGINT, its fast shutdown, then
 * SIGKILL after 10 s) and removes its directory unless keep_dir. Accepts a
 * never-started pg. */
void harness_pg_stop(harness_pg_t *pg, int keep_dir);

#endif
