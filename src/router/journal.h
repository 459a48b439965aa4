/*
 * journal.h: the router's SQLite journal of accepted guarantee jobs
 * ([router] journal), so that they survive a restart. WAL mode,
 * synchronous NORMAL or FULL ([router] journal_sync), statements prepared
 * once; writes are collected in one transaction until journal_commit (group
 * commit, once per loop pass), and a job is acknowledged only after the
 * commit that holds it has returned.
 */
#ifndef GEARHORN_JOURNAL_H
#define GEARHORN_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

typedef struct journal journal_t;

/* One journaled job; every pointer is borrowed. */
typedef struct {
	const char *msgid;
	const void *client;
	size_t clen;
	const char *queue;
	const char *headers;
	size_t hlen;
	int reply_requested;
	const void *body;
	size_t blen;
	long retries_left;
	int64_t accepted_ms; /* unix milliseconds */
} journal_job_t;

/* How far a commit reaches before journal_commit returns: the operating
 * system (NORMAL: survives the process, not a power loss), or the disk
 * (FULL: an fsync of the write-ahead log at every commit). */
typedef enum { JOURNAL_SYNC_NORMAL = 0, JOURNAL_SYNC_FULL } journal_sync_t;

/* Opens (creating and migrating) the journal at path. Caller owns the
 * result (journal_close); NULL with a message in err on failure. */
journal_t *journal_open(const char *path, journal_sync_t sync, char *err, size_t errlen);

/* Commits what is pending, closes, clears *self_p; accepts NULL. */
void journal_close(journal_t **self_p);

/* Records / forgets a job in the pending transaction (job and msgid are
 * borrowed for the call). A failure is reported by the next journal_commit. */
void journal_add(journal_t *j, const journal_job_t *job);
void journal_del(journal_t *j, const char *msgid);

/* Commits the pending transaction, if any. Returns 1: committed; 0:
 * nothing to commit. Returns -1 with the reason in err when a write of the
 * transaction or its COMMIT failed (a full disk, say): then the transaction
 * was rolled back, and none of the jobs added since the last journal_commit
 * is stored. Its deletes are kept and written with the next transaction
 * (journal_commit tries again by itself while some are left). */
int journal_commit(journal_t *j, char *err, size_t errlen);

/* Called with every job read from a journal (borrowed until it returns):
 * returns 0 if it takes the job, -1 if it refuses it (a row that holds no
 * valid job, which counts as damage). */
typedef int(journal_replay_fn)(void *arg, const journal_job_t *job);

/* What a read of a journal found. */
typedef struct {
	long restored;     /* rows read and taken by fn */
	long unreadable;   /* rows whose content could not be read or fn refused */
	long ranges;       /* runs of rowids no read could reach (damaged pages) */
	long total;        /* rows as the table or its index counts them; -1: unknown */
	int lost;          /* some rows could not be read (or none: the schema) */
	int damaged;       /* lost, or PRAGMA quick_check failed */
	char problem[256]; /* the first problem, in SQLite's words */
} journal_report_t;

/* Checks the journal file at path, if there is one, without writing to it
 * (not even a checkpoint): PRAGMA quick_check, then a read of every row
 * that can be read, past damaged pages, in rowid order (the order the jobs
 * were accepted in), each passed to fn (borrowed for the call, with arg).
 * Returns 0 with *rep filled (no file: an empty, sound journal), or -1 with
 * err when the file cannot be read for a reason other than damage. */
int journal_check(const char *path, journal_replay_fn *fn, void *arg, journal_report_t *rep,
                  char *err, size_t errlen);

/* One line for a log: "873 of 1000 job(s) can be read (...)". */
void journal_report_text(const journal_report_t *rep, char *buf, size_t len);

/* Writes a new journal holding every row of the damaged one at path that
 * can be read and that fn takes, and puts it in its place; the damaged
 * file, with its -wal and -shm files, is renamed to
 * PATH.damaged-YYYYMMDDTHHMMSSZ, which is written into aside. Returns the
 * rows kept, or -1 with err (path then as it was, unless a rename failed
 * half way; err names the files). */
long journal_salvage(const char *path, journal_replay_fn *fn, void *arg, journal_sync_t sync,
                     char *aside, size_t asidelen, char *err, size_t errlen);

/* Reads every journaled job into fn (oldest first), as journal_check reads
 * them. Returns 0 with *rep filled, or -1 with err (a transient error). */
int journal_replay(journal_t *j, journal_replay_fn *fn, void *arg, journal_report_t *rep, char *err,
                   size_t errlen);

#endif
