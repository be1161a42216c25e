-- 0007: style presets a server's admins define (/style add), and each member's personal defaults (/prefer),
-- kept for the member across every server.

CREATE TABLE styles (
    guild_id     BIGINT NOT NULL,
    name         TEXT NOT NULL,           -- lowercase, 1-32 characters
    description  TEXT NOT NULL DEFAULT '',
    prefix       TEXT NOT NULL DEFAULT '',
    suffix       TEXT NOT NULL DEFAULT '',
    negative     TEXT,
    mode         TEXT,
    aspect       TEXT,
    lora         TEXT,                    -- a LoRA preset of the custom model (settings)
    strength     DOUBLE PRECISION,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (guild_id, name)
);

CREATE TABLE member_preferences (
    user_id      BIGINT PRIMARY KEY,
    mode         TEXT,
    aspect       TEXT,
    image_count  INTEGER,
    style        TEXT,
    language     TEXT,                    -- "en-US" or "zh-CN"
    updated_at   TIMESTAMPTZ NOT NULL
);
