-- 0006: a cancel requested after LiblibAI accepted the job: the job is followed to its end there (it is billed)
-- and then ends CANCELLED, charged what LiblibAI billed.

ALTER TABLE jobs ADD COLUMN cancel_requested_at TIMESTAMPTZ;
