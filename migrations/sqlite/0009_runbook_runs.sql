-- 0009_runbook_runs (SQLite): runs of configured runbooks and the state of each of
-- their steps. A run is started by a principal (a chat user, later an automation) whose
-- roles every command step is authorized against; its living message is posted on
-- `platform`/`channel` under the outbox thread key `runbook-run:ID`. While a run is
-- active its owner renews `lease_until_us`; a run whose lease lapsed (its process died)
-- is marked `interrupted` with the step that was in flight, and nothing re-runs.
CREATE TABLE runbook_runs (
    id                  INTEGER PRIMARY KEY,
    runbook             TEXT    NOT NULL,
    -- JSON array of [name, value] pairs, defaults filled in.
    params              TEXT    NOT NULL,
    -- running, waiting, succeeded, failed, aborted, interrupted.
    state               TEXT    NOT NULL,
    -- The audit request id every record of the run carries.
    request_id          TEXT    NOT NULL,
    -- Who started it: a principal kind (slack, discord, console, automation), id, name,
    -- and group memberships (JSON array) as they were at the start.
    starter_kind        TEXT    NOT NULL,
    starter_id          TEXT    NOT NULL,
    starter_name        TEXT    NOT NULL,
    starter_groups      TEXT    NOT NULL,
    -- Where the run reports.
    platform            TEXT    NOT NULL,
    channel             TEXT    NOT NULL,
    thread              TEXT,
    -- Who asked it to stop (an actor label), while or after it stops.
    abort_requested_by  TEXT,
    owner               TEXT    NOT NULL,
    lease_until_us      BIGINT  NOT NULL,
    started_at_us       BIGINT  NOT NULL,
    finished_at_us      BIGINT
);

-- The lapsed-lease sweep and `runbook status` look at active runs only.
CREATE INDEX runbook_runs_active ON runbook_runs (lease_until_us)
    WHERE state IN ('running', 'waiting');

CREATE TABLE runbook_run_steps (
    run_id          BIGINT  NOT NULL REFERENCES runbook_runs (id),
    -- 1-based, rollback steps numbered after the steps.
    position        BIGINT  NOT NULL,
    -- 1 for a rollback step.
    rollback        BIGINT  NOT NULL,
    kind            TEXT    NOT NULL,
    -- What it does, filled in, secrets redacted.
    description     TEXT    NOT NULL,
    -- pending, running, waiting, ok, failed, skipped, interrupted, aborted.
    state           TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    -- Who pressed Done or Skip on a manual step (an actor label).
    answered_by     TEXT,
    started_at_us   BIGINT,
    finished_at_us  BIGINT,
    PRIMARY KEY (run_id, position)
);
