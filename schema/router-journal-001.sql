-- gearhorn-router: accepted guarantee jobs, replayed into their queues at
-- start (see gearhorn-router(8), [router] journal). A row is written when the
-- router accepts the job and deleted when the job ends (result or failure).
CREATE TABLE job (
    msgid           TEXT PRIMARY KEY,  -- the client's msgid
    client          BLOB NOT NULL,     -- the client's ZeroMQ identity
    queue           TEXT NOT NULL,
    headers         TEXT NOT NULL,     -- as forwarded (reply-requested added)
    reply_requested INTEGER NOT NULL,  -- the client asked for the result
    body            BLOB NOT NULL,
    retries_left    INTEGER NOT NULL,
    accepted_ms     INTEGER NOT NULL   -- unix milliseconds
);
