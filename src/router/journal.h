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

/* Calls fn for every journaled job, oldest first. Returns the count, or -1
 * (logged). */
typedef void(journal_replay_fn)(void *arg, const journal_job_t *job);
long journal_replay(journal_t *j, journal_replay_fn *fn, void *arg);

#endif
