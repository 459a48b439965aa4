-- gearhorn-scheduler: the schedules it has been given, restored at start.
-- key is the job's identity: its callable, path and arguments as canonical
-- JSON (a new SCHEDULE of the same call replaces the old one, as in EventMQ).
CREATE TABLE schedule (
    key        TEXT PRIMARY KEY,
    queue      TEXT NOT NULL,
    headers    TEXT NOT NULL,
    interval_s INTEGER NOT NULL,      -- -1 for cron schedules
    cron       TEXT NOT NULL,         -- '' for interval schedules
    body       TEXT NOT NULL,         -- the job JSON, sent as it came
    runs_left  INTEGER NOT NULL,      -- -1: no run_count limit
    next_run   INTEGER NOT NULL,      -- unix seconds
    created    INTEGER NOT NULL
);
