-- 0013_automations (sqlite): the kill switch and the guardrail ledger of `[[automations]]`.
-- A row in automation_pauses stops an automation (name `*`: every automation) on every
-- replica and across restarts, until `automation resume` deletes it.
CREATE TABLE automation_pauses (
    name          TEXT    PRIMARY KEY,
    paused_by     TEXT    NOT NULL,
    paused_at_us  BIGINT  NOT NULL
);

-- Every time an automation matched: `started` (with its runbook run) or refused (and
-- why: rate limit, cooldown, maintenance, silence, pause). Started rows are what the rate
-- limit and the cooldown count; trigger_key (an incident's firing, a budget alert's
-- fingerprint) makes one trigger start at most one run.
CREATE TABLE automation_runs (
    id             INTEGER PRIMARY KEY,
    automation     TEXT    NOT NULL,
    service        TEXT    NOT NULL,
    trigger_key    TEXT    NOT NULL,
    incident_id    BIGINT,
    run_id         BIGINT,
    outcome        TEXT    NOT NULL,
    detail         TEXT    NOT NULL,
    at_us          BIGINT  NOT NULL,
    UNIQUE (automation, trigger_key)
);
CREATE INDEX automation_runs_service ON automation_runs (automation, service, at_us);
