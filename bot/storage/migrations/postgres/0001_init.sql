-- 0001: jobs, quota counters, a key/value table and leases (dispatcher election).
-- Mirrors migrations/sqlite/0001_init.sql with native types: TIMESTAMPTZ datetimes, BIGINT Discord ids,
-- JSONB for the JSON of GenerationRequest, JobResult and the list of UsageDebit.
-- seq keeps insertion order, the tie-break among jobs created at the same instant (SQLite's rowid).

CREATE TABLE jobs (
    seq                     BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id                      TEXT PRIMARY KEY,
    user_id                 BIGINT NOT NULL,
    channel_id              BIGINT NOT NULL,
    guild_id                BIGINT,
    request                 JSONB NOT NULL,
    kind                    TEXT NOT NULL,
    state                   TEXT NOT NULL CHECK (state IN (
                                'queued', 'submitting', 'running', 'delivering',
                                'succeeded', 'failed', 'cancelled', 'expired')),
    created_at              TIMESTAMPTZ NOT NULL,
    state_changed_at        TIMESTAMPTZ NOT NULL,
    generate_uuid           TEXT,
    submitted_at            TIMESTAMPTZ,
    finished_at             TIMESTAMPTZ,
    application_id          BIGINT,
    interaction_token       TEXT,
    interaction_expires_at  TIMESTAMPTZ,
    progress_message_id     BIGINT,
    reply_to_message_id     BIGINT,
    result_message_id       BIGINT,
    parent_job_id           TEXT,
    locale                  TEXT NOT NULL DEFAULT 'en-US',
    points_reserved         INTEGER NOT NULL DEFAULT 0,
    points_cost             INTEGER,
    debits                  JSONB NOT NULL DEFAULT '[]',
    refunded                BOOLEAN NOT NULL DEFAULT FALSE,
    result                  JSONB,
    failure_reason          TEXT,
    failure_detail          TEXT,
    percent                 DOUBLE PRECISION,
    submit_attempts         INTEGER NOT NULL DEFAULT 0,
    not_before              TIMESTAMPTZ
);

CREATE INDEX jobs_state_created ON jobs (state, created_at, seq);
CREATE INDEX jobs_user_state ON jobs (user_id, state);

CREATE TABLE usage (
    scope     TEXT NOT NULL,
    scope_id  BIGINT NOT NULL,
    "window"  TEXT NOT NULL,
    images    INTEGER NOT NULL DEFAULT 0 CHECK (images >= 0),
    points    INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),
    PRIMARY KEY (scope, scope_id, "window")
);

CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- One row per elected role ("dispatcher"): who holds it and until when (database clock).
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
