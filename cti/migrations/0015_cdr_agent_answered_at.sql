-- When the agent answered (milliseconds since the Unix epoch): the first agent's
-- answer of a queue call, a transfer's target when no agent had answered before,
-- the customer's answer of a call placed for an agent. NULL for calls no agent
-- answered, and for calls between extensions. Talk time is ended_at minus it.
ALTER TABLE cdrs ADD COLUMN agent_answered_at BIGINT;
CREATE INDEX cdrs_started_queue ON cdrs (started_at, queue);
