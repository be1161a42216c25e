-- 0002: request fingerprints (re-post identical seeded requests instead of paying twice) and the
-- message a button action came from.

ALTER TABLE jobs ADD COLUMN fingerprint TEXT;
ALTER TABLE jobs ADD COLUMN parent_message_id INTEGER;

CREATE INDEX jobs_fingerprint ON jobs (fingerprint, created_at);
