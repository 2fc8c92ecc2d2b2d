-- The ACD's agent state that outlives a restart: per agent, presence (with the
-- not-ready reason), skills and queue memberships. The node rewrites an agent's
-- rows whenever they change and restores them into the engine at start.
CREATE TABLE acd_agents (
    agent    TEXT PRIMARY KEY,
    presence TEXT NOT NULL,
    reason   TEXT
);

CREATE TABLE acd_agent_skills (
    agent TEXT NOT NULL,
    ord   INTEGER NOT NULL,
    skill TEXT NOT NULL,
    level INTEGER NOT NULL,
    PRIMARY KEY (agent, ord)
);

CREATE TABLE acd_agent_tiers (
    agent    TEXT NOT NULL,
    ord      INTEGER NOT NULL,
    queue    TEXT NOT NULL,
    level    INTEGER NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (agent, ord)
);
