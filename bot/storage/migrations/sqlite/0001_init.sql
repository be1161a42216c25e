-- 0001: jobs, quota counters and a small key/value table.
-- Datetimes are ISO-8601 UTC text with microseconds ("2026-01-02T03:04:05.000006+00:00"), so text order is time order.
-- request, result and debits hold the JSON of GenerationRequest, JobResult and a list of UsageDebit.

CREATE TABLE jobs (
    id                      TEXT PRIMARY KEY,
    user_id                 INTEGER NOT NULL,
    channel_id              INTEGER NOT NULL,
    guild_id                INTEGER,
    request                 TEXT NOT NULL,
    kind                    TEXT NOT NULL,
    state                   TEXT NOT NULL CHECK (state IN (
                                'queued', 'submitting', 'running', 'delivering',
                                'succeeded', 'failed', 'cancelled', 'expired')),
    created_at              TEXT NOT NULL,
    state_changed_at        TEXT NOT NULL,
    generate_uuid           TEXT,
    submitted_at            TEXT,
    finished_at             TEXT,
    application_id          INTEGER,
    interaction_token       TEXT,
    interaction_expires_at  TEXT,
    progress_message_id     INTEGER,
    reply_to_message_id     INTEGER,
    result_message_id       INTEGER,
    parent_job_id           TEXT,
    locale                  TEXT NOT NULL DEFAULT 'en-US',
    points_reserved         INTEGER NOT NULL DEFAULT 0,
    points_cost             INTEGER,
    debits                  TEXT NOT NULL DEFAULT '[]',
    refunded                INTEGER NOT NULL DEFAULT 0 CHECK (refunded IN (0, 1)),
    result                  TEXT,
    failure_reason          TEXT,
    failure_detail          TEXT,
    percent                 REAL,
    submit_attempts         INTEGER NOT NULL DEFAULT 0,
    not_before              TEXT
);

CREATE INDEX jobs_state_created ON jobs (state, created_at);
CREATE INDEX jobs_user_state ON jobs (user_id, state);

CREATE TABLE usage (
    scope     TEXT NOT NULL,
    scope_id  INTEGER NOT NULL,
    "window"  TEXT NOT NULL,
    images    INTEGER NOT NULL DEFAULT 0 CHECK (images >= 0),
    points    INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),
    PRIMARY KEY (scope, scope_id, "window")
);

CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
