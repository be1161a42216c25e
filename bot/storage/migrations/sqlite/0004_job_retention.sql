-- 0004: retention of finished jobs (issue 17 #10): the sweep that forgets interaction tokens of finished
-- jobs finds the few rows still holding one, and the one that deletes jobs past their retention finds
-- the old rows, without reading the whole table.

CREATE INDEX jobs_finished ON jobs (finished_at);
CREATE INDEX jobs_live_tokens ON jobs (finished_at) WHERE interaction_token IS NOT NULL;
