/*
 * harness.c: real servers for integration tests (see harness.h).
 */
#include "config.h"

#include "harness.h"
#include "files.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int
harness_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

const char *
harness_gearmand_path(void)
{
	const char *p = getenv("GEARMAND");

	if (p == NULL || *p == '\0')
		p = "/usr/sbin/gearmand";
	return access(p, X_OK) == 0 ? p : NULL;
}

static int
connect_port(int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

char *
harness_gearmand_admin(const harness_gearmand_t *g, const char *command)
{
	struct timeval tv = {30, 0}; /* only bounds a failure: a loaded machine is slow */
	size_t cap = 4096, len = 0;
	char *buf;
	int fd;

	fd = connect_port(g->port);
	if (fd < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (write(fd, command, strlen(command)) != (ssize_t)strlen(command)) {
		close(fd);
		return NULL;
	}
	buf = malloc(cap);
	while (buf != NULL) {
		ssize_t n;

		if (len + 1 == cap) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		/* Single-line replies (OK ..., ERR ...) end at the first newline,
		 * listings (status, workers) at a line holding a lone dot. */
		if ((strncmp(buf, "OK", 2) == 0 || strncmp(buf, "ERR", 3) == 0) &&
		    strchr(buf, '\n') != NULL)
			break;
		if (len >= 2 && strcmp(buf + len - 2, ".\n") == 0 &&
		    (len == 2 || buf[len - 3] == '\n'))
			break;
	}
	close(fd);
	return buf;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Whether process pid has a TCP socket listening on 127.0.0.1:port (Linux;
 * 1 where /proc cannot tell). gearmand keeps trying a port it cannot bind,
 * and another server that took the port would answer in its place. */
static int
pid_listens(pid_t pid, int port)
{
	char path[64], line[512], fd[400], link[64];
	unsigned long inode;
	unsigned int addr, p, st;
	FILE *f = fopen("/proc/net/tcp", "r");
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if (f == NULL || access(path, R_OK) != 0) {
		if (f != NULL)
			fclose(f);
		return 1;
	}
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		DIR *d;
		struct dirent *e;

		/* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
		if (sscanf(line, " %*u: %x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*u %*u %lu", &addr,
		           &p, &st, &inode) != 4 ||
		    addr != 0x0100007F || (int)p != port || st != 0x0A)
			continue;
		if ((d = opendir(path)) == NULL)
			break;
		snprintf(link, sizeof(link), "socket:[%lu]", inode);
		while (!found && (e = readdir(d)) != NULL) {
			char target[64];
			ssize_t n;

			snprintf(fd, sizeof(fd), "%s/%s", path, e->d_name);
			n = readlink(fd, target, sizeof(target) - 1);
			if (n > 0) {
				target[n] = '\0';
				found = strcmp(target, link) == 0;
			}
		}
		closedir(d);
	}
	fclose(f);
	return found;
}

static int
start_once(harness_gearmand_t *g, const char *bin, int port)
{
	char portarg[32], logarg[sizeof(g->dir) + 32], pidarg[sizeof(g->dir) + 32];
	int i;

	g->port = port;
	snprintf(g->addr, sizeof(g->addr), "127.0.0.1:%d", port);
	snprintf(portarg, sizeof(portarg), "--port=%d", port);
	snprintf(logarg, sizeof(logarg), "--log-file=%s/gearmand.log", g->dir);
	snprintf(pidarg, sizeof(pidarg), "--pid-file=%s/gearmand.pid", g->dir);

	g->pid = fork();
	if (g->pid < 0)
		return -1;
	if (g->pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
		}
		execl(bin, bin, "--listen=127.0.0.1", portarg, logarg, pidarg, "--threads=2",
		      "--verbose=WARNING", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 600; i++) { /* 30 s */
		int status;
		char *reply;

		if (waitpid(g->pid, &status, WNOHANG) == g->pid) {
			g->pid = 0;
			return -1;
		}
		reply = harness_gearmand_admin(g, "version\n");
		if (reply != NULL && strncmp(reply, "OK", 2) == 0 && pid_listens(g->pid, port)) {
			free(reply);
			return 0;
		}
		free(reply);
		sleep_ms(50);
	}
	return -1;
}

int
harness_gearmand_start(harness_gearmand_t *g, int port)
{
	const char *bin = harness_gearmand_path();
	int attempt;

	memset(g, 0, sizeof(*g));
	if (bin == NULL) {
		fprintf(stderr, "harness: gearmand not found (set GEARMAND)\n");
		return -1;
	}
	if (gh_tmpdir_make(g->dir, sizeof(g->dir), "gearmand") != 0) {
		fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	/* A free port can be taken between the probe and the bind: try again. */
	for (attempt = 0; attempt < 5; attempt++) {
		int p = port > 0 ? port : harness_free_port();

		if (p > 0 && start_once(g, bin, p) == 0)
			return 0;
		harness_gearmand_stop(g, 1);
		if (port > 0)
			break;
	}
	fprintf(stderr, "harness: gearmand did not start (see %s/gearmand.log)\n", g->dir);
	return -1;
}

void
harness_gearmand_stop(harness_gearmand_t *g, int keep_dir)
{
	if (g->pid > 0) {
		int status, i;

		kill(g->pid, SIGTERM);
		for (i = 0; i < 200; i++) {
			if (waitpid(g->pid, &status, WNOHANG) == g->pid)
				break;
			sleep_ms(50);
		}
		if (i == 200) {
			kill(g->pid, SIGKILL);
			waitpid(g->pid, &status, 0);
		}
		g->pid = 0;
	}
	if (!keep_dir && g->dir[0] != '\0') {
		gh_tmpdir_remove(g->dir);
		g->dir[0] = '\0';
	}
}

const char *
harness_pg_bindir(void)
{
	static char dir[512];
	const char *env = getenv("PG_BINDIR"), *path = getenv("PATH");
	char best[512] = "";
	long best_version = -1;
	DIR *d;
	struct dirent *e;

	if (env != NULL && *env != '\0') {
		char initdb[600], pg_ctl[600];

		snprintf(dir, sizeof(dir), "%s", env);
		snprintf(initdb, sizeof(initdb), "%s/initdb", dir);
		snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", dir);
		return access(initdb, X_OK) == 0 && access(pg_ctl, X_OK) == 0 ? dir : NULL;
	}
	if ((d = opendir("/usr/lib/postgresql")) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char initdb[512], pg_ctl[512];
			long v = strtol(e->d_name, NULL, 10);

			snprintf(initdb, sizeof(initdb), "/usr/lib/postgresql/%s/bin/initdb",
			         e->d_name);
			snprintf(pg_ctl, sizeof(pg_ctl), "/usr/lib/postgresql/%s/bin/pg_ctl",
			         e->d_name);
			if (e->d_name[0] == '.' || access(initdb, X_OK) != 0 ||
			    access(pg_ctl, X_OK) != 0 || v <= best_version)
				continue;
			best_version = v;
			snprintf(best, sizeof(best), "/usr/lib/postgresql/%s/bin", e->d_name);
		}
		closedir(d);
	}
	if (best[0] != '\0') {
		snprintf(dir, sizeof(dir), "%s", best);
		return dir;
	}
	while (path != NULL && *path != '\0') {
		const char *end = strchr(path, ':');
		size_t len = end != NULL ? (size_t)(end - path) : strlen(path);
		char initdb[600], pg_ctl[600];

		snprintf(dir, sizeof(dir), "%.*s", (int)len, path);
		snprintf(initdb, sizeof(initdb), "%s/initdb", dir);
		snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", dir);
		if (len > 0 && access(initdb, X_OK) == 0 && access(pg_ctl, X_OK) == 0)
			return dir;
		path = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

/* Runs argv (argv[0] a full path), as the postgres user when we are root,
 * with its output appended to the file log. Returns its exit status, or -1. */
static int
pg_run(char *const argv[], const char *log)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		char *ru[32] = {"runuser", "-u", "postgres", "--"};
		size_t i;

		if (null >= 0)
			dup2(null, 0);
		if (out >= 0) {
			dup2(out, 1);
			dup2(out, 2);
		}
		if (geteuid() != 0)
			execv(argv[0], argv);
		for (i = 0; argv[i] != NULL && i + 5 < sizeof(ru) / sizeof(ru[0]); i++)
			ru[i + 4] = argv[i];
		ru[i + 4] = NULL;
		execvp("runuser", ru);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int
harness_pg_start(harness_pg_t *pg)
{
	const char *bin = harness_pg_bindir();
	char initdb[600], pg_ctl[600], data[1100], log[1100], runlog[1100], opts[1200];
	char pidfile[1200];
	FILE *f;
	long pid = 0;

	memset(pg, 0, sizeof(*pg));
	if (bin == NULL) {
		fprintf(stderr, "harness: PostgreSQL (initdb, pg_ctl) is not installed\n");
		return 1;
	}
	if (gh_tmpdir_make(pg->dir, sizeof(pg->dir), "pg") != 0) {
		fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	/* The server runs in its data directory: the socket directory and the
	 * URI need the full path. */
	if (pg->dir[0] != '/') {
		char *abs = realpath(pg->dir, NULL);

		if (abs == NULL || strlen(abs) >= sizeof(pg->dir)) {
			fprintf(stderr, "harness: %s: %s\n", pg->dir,
			        abs == NULL ? strerror(errno) : "path too long");
			free(abs);
			harness_pg_stop(pg, 0);
			return -1;
		}
		snprintf(pg->dir, sizeof(pg->dir), "%s", abs);
		free(abs);
	}
	if (geteuid() == 0) {
		/* PostgreSQL refuses to run as root: the cluster is postgres's. */
		struct passwd *pw = getpwnam("postgres");

		if (pw == NULL || chown(pg->dir, pw->pw_uid, pw->pw_gid) != 0) {
			fprintf(stderr, "harness: running as root and there is no postgres user\n");
			harness_pg_stop(pg, 0);
			return 1;
		}
	}
	snprintf(initdb, sizeof(initdb), "%s/initdb", bin);
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", bin);
	snprintf(data, sizeof(data), "%s/data", pg->dir);
	snprintf(log, sizeof(log), "%s/postgres.log", pg->dir);
	snprintf(runlog, sizeof(runlog), "%s/pg_ctl.log", pg->dir);
	snprintf(opts, sizeof(opts), "-c listen_addresses='' -k %s -c fsync=off", pg->dir);
	{
		char *init_argv[] = {initdb, "-D",    data,        "-U", "postgres",
		                     "-A",   "trust", "--no-sync", NULL};
		char *start_argv[] = {pg_ctl, "-D", data, "-l", log,     "-w",
		                      "-t",   "60", "-o", opts, "start", NULL};

		if (pg_run(init_argv, runlog) != 0) {
			fprintf(stderr, "harness: initdb failed (see %s)\n", runlog);
			return -1;
		}
		if (pg_run(start_argv, runlog) != 0) {
			fprintf(stderr, "harness: PostgreSQL did not start (see %s)\n", log);
			return -1;
		}
	}
	snprintf(pidfile, sizeof(pidfile), "%s/postmaster.pid", data);
	if ((f = fopen(pidfile, "r")) != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	if (pid <= 0) {
		fprintf(stderr, "harness: no pid in %s\n", pidfile);
		return -1;
	}
	pg->pid = (pid_t)pid;
	snprintf(pg->uri, sizeof(pg->uri), "postgresql:///postgres?host=%s&user=postgres", pg->dir);
	return 0;
}

void
harness_pg_stop(harness_pg_t *pg, int keep_dir)
{
	if (pg->pid > 0) {
		int i;

		/* Not our child (pg_ctl started it): wait for it to be gone. */
		kill(pg->pid, SIGINT);
		for (i = 0; i < 200 && kill(pg->pid, 0) == 0; i++)
			sleep_ms(50);
		if (i == 200)
			kill(pg->pid, SIGKILL);
		pg->pid = 0;
	}
	if (!keep_dir && pg->dir[0] != '\0') {
		gh_tmpdir_remove(pg->dir);
		pg->dir[0] = '\0';
	}
}
