-- 0003: server administration: per-scope settings, the admin audit trail, the prompt log,
-- banned-word strikes and per-member timers (cooldown, block). Datetimes as in 0001.

CREATE TABLE guild_config (
    guild_id    INTEGER NOT NULL,
    scope       TEXT NOT NULL,           -- "server", "channel:<id>", "role:<id>" or "member:<id>"
    config      TEXT NOT NULL,           -- JSON object: only the keys an admin set in this scope
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (guild_id, scope)
);

CREATE TABLE admin_audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id    INTEGER NOT NULL,
    actor_id    INTEGER NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE INDEX admin_audit_guild ON admin_audit (guild_id, id);

CREATE TABLE prompt_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id         INTEGER,            -- NULL for a direct message
    channel_id       INTEGER NOT NULL,
    user_id          INTEGER NOT NULL,
    job_id           TEXT NOT NULL,
    mode             TEXT NOT NULL,
    prompt           TEXT NOT NULL,
    negative_prompt  TEXT,
    created_at       TEXT NOT NULL
);

CREATE INDEX prompt_log_guild ON prompt_log (guild_id, id);
CREATE INDEX prompt_log_created ON prompt_log (created_at);

CREATE TABLE strikes (
    guild_id    INTEGER NOT NULL,        -- 0 for direct messages
    user_id     INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE INDEX strikes_member ON strikes (guild_id, user_id, created_at);

CREATE TABLE member_timers (
    guild_id    INTEGER NOT NULL,        -- 0 for direct messages
    user_id     INTEGER NOT NULL,
    kind        TEXT NOT NULL,           -- "cooldown", "blocked"
    until       TEXT NOT NULL,
    PRIMARY KEY (guild_id, user_id, kind)
);
