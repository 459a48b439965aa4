/*
 * journal.h: the router's SQLite journal of accepted guarantee jobs
 * ([router] journal), so that they survive a restart. WAL mode,
 * synchronous=NORMAL, statements prepared once; writes are collected in one
 * transaction until journal_commit (group commit, once per loop pass).
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

/* Opens (creating and migrating) the journal at path. Caller owns the
 * result (journal_close); NULL with a message in err on failure. */
journal_t *journal_open(const char *path, char *err, size_t errlen);

/* Commits what is pending, closes, clears *self_p; accepts NULL. */
void journal_close(journal_t **self_p);

/* Records / forgets a job (in the pending transaction). Errors are logged;
 * the router goes on without them. */
void journal_add(journal_t *j, const journal_job_t *job);
void journal_del(journal_t *j, const char *msgid);

/* Commits the pending transaction, if any. */
void journal_commit(journal_t *j);

/* Calls fn for every journaled job, oldest first. Returns the count, or -1
 * (logged). */
typedef void(journal_replay_fn)(void *arg, const journal_job_t *job);
long journal_replay(journal_t *j, journal_replay_fn *fn, void *arg);

#endif
