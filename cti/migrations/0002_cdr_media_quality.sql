-- Listening quality of each party's audio as the node received it: loss and
-- interarrival jitter from RFC 3550 receiver statistics, and the MOS the
-- ITU-T G.107 E-model gives for them. NULL when a party sent no audio.
ALTER TABLE cdrs ADD COLUMN caller_mos DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN caller_loss_pct DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN caller_jitter_ms DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN callee_mos DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN callee_loss_pct DOUBLE PRECISION;
ALTER TABLE cdrs ADD COLUMN callee_jitter_ms DOUBLE PRECISION;
