-- 0016_investigations (PostgreSQL): investigations of incidents with the team's model
-- (bot/src/investigator), and roots posted inside another thread (an investigation's
-- answer in its incident's thread, edited as it streams). Times are BIGINT unix
-- microseconds.

-- The thread whose root a `post_root` is posted in (NULL: in the channel).
ALTER TABLE outbox ADD COLUMN parent_thread_key TEXT;

-- One row per investigation; follow-up questions continue it (`turns` counts them).
CREATE TABLE investigations (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id     BIGINT  NOT NULL,
    -- the incident's service, when it has one (its spend is counted there)
    service         TEXT,
    platform        TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    -- who asked: `slack:U123`, `automation:investigator`
    started_by      TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    endpoint        TEXT    NOT NULL,
    -- running | answered | failed
    state           TEXT    NOT NULL,
    -- the conversation sent to the model (redacted), a JSON array of messages
    conversation    TEXT    NOT NULL,
    turns           BIGINT  NOT NULL DEFAULT 1,
    tokens_in       BIGINT  NOT NULL DEFAULT 0,
    tokens_out      BIGINT  NOT NULL DEFAULT 0,
    tool_calls      BIGINT  NOT NULL DEFAULT 0,
    -- what the tokens cost, as a decimal string in `currency`
    cost            TEXT    NOT NULL DEFAULT '0',
    currency        TEXT    NOT NULL DEFAULT 'USD',
    summary         TEXT    NOT NULL DEFAULT '',
    started_at_us   BIGINT  NOT NULL,
    finished_at_us  BIGINT
);

CREATE INDEX investigations_incident ON investigations (incident_id, id);
CREATE INDEX investigations_started ON investigations (started_at_us);
