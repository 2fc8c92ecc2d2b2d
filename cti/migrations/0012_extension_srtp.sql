-- Whether every leg toward an extension must be SRTP ('required': only its
-- phones on TLS ring, with the node's key, and a call it cannot take that way
-- is refused) or follows the call ('optional': SRTP when the caller's leg is,
-- on its phones on TLS, else plain RTP).
ALTER TABLE extensions ADD COLUMN srtp TEXT NOT NULL DEFAULT 'optional'
    CHECK (srtp IN ('optional', 'required'));
