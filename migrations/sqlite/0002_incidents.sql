-- 0002_incidents (SQLite): incidents opened from alerts, their alerts, their timeline,
-- ad hoc silences, and where each incident's thread is on each chat platform.
-- Times are BIGINT unix microseconds; labels and annotations are JSON text.
-- Independent of 0003 (outbox): the two may be applied in either order.

-- One incident: a group of alerts about one service. `key` identifies the group
-- (Alertmanager's groupKey, or service + group_by labels) and is unique among current
-- incidents; a resolved incident past its reopen window gives its key up
-- (`key@id`) when the group fires again, and a new incident takes it.
CREATE TABLE incidents (
    id                 INTEGER PRIMARY KEY,
    key                TEXT    NOT NULL UNIQUE,
    group_key          TEXT    NOT NULL,
    source             TEXT    NOT NULL,
    service            TEXT,
    environment        TEXT,
    title              TEXT    NOT NULL,
    severity           TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    silenced           BIGINT  NOT NULL DEFAULT 0,
    silenced_reason    TEXT,
    opened_at_us       BIGINT  NOT NULL,
    acknowledged_at_us BIGINT,
    acknowledged_by    TEXT,
    resolved_at_us     BIGINT,
    resolved_by        TEXT,
    escalation_policy  TEXT,
    escalation_level   BIGINT  NOT NULL DEFAULT 0,
    next_escalation_us BIGINT,
    changed_at_us      BIGINT  NOT NULL
);

-- `incident list` (open first, newest first) and the escalation timer.
CREATE INDEX incidents_status_opened ON incidents (status, opened_at_us);
CREATE INDEX incidents_next_escalation ON incidents (next_escalation_us);

-- The alerts of an incident, deduplicated by fingerprint.
CREATE TABLE incident_alerts (
    incident_id    BIGINT  NOT NULL REFERENCES incidents (id),
    fingerprint    TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    summary        TEXT    NOT NULL,
    labels         TEXT    NOT NULL,
    annotations    TEXT    NOT NULL,
    generator_url  TEXT,
    starts_at_us   BIGINT,
    ends_at_us     BIGINT,
    first_seen_us  BIGINT  NOT NULL,
    last_seen_us   BIGINT  NOT NULL,
    silenced       BIGINT  NOT NULL DEFAULT 0,
    PRIMARY KEY (incident_id, fingerprint)
);

-- The timeline: opened, alert_firing, alert_resolved, acknowledged, resolved, reopened,
-- note, escalated, silenced.
CREATE TABLE incident_events (
    id          INTEGER PRIMARY KEY,
    incident_id BIGINT  NOT NULL REFERENCES incidents (id),
    at_us       BIGINT  NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT,
    detail      TEXT    NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

-- Ad hoc silences: alerts matching every matcher (and the service, when set) until
-- `until_us` are recorded as silenced, not paged. `expired_at_us` ends one early.
CREATE TABLE silences (
    id            INTEGER PRIMARY KEY,
    matchers      TEXT    NOT NULL,
    service       TEXT,
    created_at_us BIGINT  NOT NULL,
    until_us      BIGINT  NOT NULL,
    expired_at_us BIGINT,
    reason        TEXT    NOT NULL,
    created_by    TEXT    NOT NULL
);
CREATE INDEX silences_until ON silences (until_us);

-- Where each incident's thread lives: one row per platform and channel, under the
-- outbox thread key (`incident:ID`). The root's platform message id is the outbox's
-- (`outbox_threads.message_ref` of 0003, joined on platform and thread_key), which maps
-- a chat thread back to its incident.
CREATE TABLE incident_messages (
    incident_id BIGINT  NOT NULL REFERENCES incidents (id),
    platform    TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    thread_key  TEXT    NOT NULL,
    PRIMARY KEY (incident_id, platform, channel)
);
CREATE INDEX incident_messages_thread ON incident_messages (platform, thread_key);
