-- 0003_outbox (PostgreSQL): the durable outbox of chat messages and the root message of each
-- thread. Times are BIGINT unix microseconds. Independent of 0002: the two may be applied
-- in either order.

-- One row per chat operation to deliver. `id` orders the messages of a thread.
CREATE TABLE outbox (
    id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    platform           TEXT    NOT NULL,
    channel            TEXT    NOT NULL,
    thread_key         TEXT,
    -- post_root | edit_root | reply | post
    operation          TEXT    NOT NULL,
    -- interactive | alerts
    lane               TEXT    NOT NULL,
    -- the neutral reply as JSON (bot/src/outbox/reply_json.rs)
    reply              TEXT    NOT NULL,
    dedupe_key         TEXT    NOT NULL UNIQUE,
    -- pending | delivered | failed
    state              TEXT    NOT NULL DEFAULT 'pending',
    attempts           BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at_us BIGINT  NOT NULL,
    -- the dispatcher holding the lease, and until when
    claimed_by         TEXT,
    claimed_until_us   BIGINT,
    last_error         TEXT,
    created_at_us      BIGINT  NOT NULL,
    delivered_at_us    BIGINT,
    -- the platform's id of what was posted (or of the root that was edited)
    message_ref        TEXT
);

-- The dispatcher's claim: due pending messages of a lane.
CREATE INDEX outbox_due ON outbox (lane, next_attempt_at_us) WHERE state = 'pending';
-- Per-thread order: is there an older pending message in this thread and lane?
CREATE INDEX outbox_thread ON outbox (platform, thread_key, lane, id) WHERE state = 'pending';

-- The root message posted for a thread, so edits and replies find it.
CREATE TABLE outbox_threads (
    platform      TEXT   NOT NULL,
    thread_key    TEXT   NOT NULL,
    channel       TEXT   NOT NULL,
    message_ref   TEXT   NOT NULL,
    created_at_us BIGINT NOT NULL,
    PRIMARY KEY (platform, thread_key)
);
