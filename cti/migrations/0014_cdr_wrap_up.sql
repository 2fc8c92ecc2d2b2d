-- The agent's wrap-up of a call (its disposition): a code from the queue's list
-- (or any well-formed code for a call that came through no queue), free-text
-- notes, who gave it and when (milliseconds since the Unix epoch). NULL until an
-- agent, a supervisor or an administrator wraps the call up; a later wrap-up
-- replaces it.
ALTER TABLE cdrs ADD COLUMN wrap_up_code TEXT;
ALTER TABLE cdrs ADD COLUMN wrap_up_notes TEXT;
ALTER TABLE cdrs ADD COLUMN wrap_up_by TEXT;
ALTER TABLE cdrs ADD COLUMN wrap_up_at BIGINT;
CREATE INDEX cdrs_wrap_up_code ON cdrs (wrap_up_code);
