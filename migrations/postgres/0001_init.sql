-- 0001_init (PostgreSQL): the hash-chained audit log, its chain head and retention anchor,
-- and pending requests. Times are BIGINT unix microseconds; lists are newline-joined TEXT.
-- Later issues add their own files (0002_alerts.sql, 0003_incidents.sql, 0004_outbox.sql)
-- and list them in bot/src/store/migrations.rs. Never edit an applied migration.

-- One row per audited invocation or decision. `seq` is dense, assigned by the
-- audit writer under the audit_head lock; `hash` chains each row to `prev_hash`.
CREATE TABLE audit_log (
    seq         BIGINT  PRIMARY KEY,
    at_us       BIGINT  NOT NULL,
    request_id  TEXT    NOT NULL,
    platform    TEXT    NOT NULL,
    actor_id    TEXT    NOT NULL,
    actor_name  TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    thread      TEXT,
    text        TEXT    NOT NULL,
    command     TEXT,
    service     TEXT,
    environment TEXT,
    decision    TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    approver    TEXT,
    outcome     TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    duration_ms BIGINT  NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);

-- For `audit --since`, export and retention. The only secondary index: each one is paid
-- on every append, and `audit --actor/--service` read newest-first by seq with a limit.
CREATE INDEX audit_log_at_us ON audit_log (at_us);

-- The chain head: seq and hash of the newest entry (0 and 64 zeros when empty). Every
-- append and prune updates this row first, which serializes writers across replicas.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- The last entry removed by retention: verification starts right after it.
CREATE TABLE audit_anchor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_anchor (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Destructive commands waiting for confirmation or a second person's approval.
CREATE TABLE pending_requests (
    id               TEXT    PRIMARY KEY,
    state            TEXT    NOT NULL,
    request_id       TEXT    NOT NULL,
    platform         TEXT    NOT NULL,
    requester_id     TEXT    NOT NULL,
    requester_name   TEXT    NOT NULL,
    requester_groups TEXT    NOT NULL,
    channel          TEXT    NOT NULL,
    thread           TEXT,
    text             TEXT    NOT NULL,
    command          TEXT    NOT NULL,
    service          TEXT,
    environment      TEXT,
    policy           TEXT,
    created_at_us    BIGINT  NOT NULL,
    expires_at_us    BIGINT  NOT NULL,
    decided_by       TEXT
);

-- For the expiry sweep: open requests past their deadline.
CREATE INDEX pending_requests_state_expires ON pending_requests (state, expires_at_us);
