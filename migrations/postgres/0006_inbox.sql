-- 0006_inbox (PostgreSQL): the command inbox. Every signed chat invocation (Slack slash
-- command, button press, mention, Socket Mode envelope; Discord interaction) is stored
-- here, committed, before it is acknowledged; it is marked done in the same transaction
-- that queues its reply. A row still `accepted` after its owner died is reported (and
-- audited) by the recovery sweep. The key refuses a replayed delivery across restarts
-- and replicas; done rows are pruned once `forget_after_us` (accepted + the platform's
-- signature window) has passed.
CREATE TABLE inbox (
    platform        TEXT    NOT NULL,
    delivery_id     TEXT    NOT NULL,
    request_id      TEXT    NOT NULL,
    actor_id        TEXT    NOT NULL,
    actor_name      TEXT    NOT NULL,
    channel         TEXT    NOT NULL,
    thread          TEXT,
    text            TEXT    NOT NULL,
    -- Where a report about this invocation goes while the platform's answer handle
    -- (Slack response_url, Discord interaction token) is valid, and until when.
    answer_to       TEXT,
    answer_until_us BIGINT,
    state           TEXT    NOT NULL,
    owner           TEXT    NOT NULL,
    lease_until_us  BIGINT  NOT NULL,
    accepted_at_us  BIGINT  NOT NULL,
    forget_after_us BIGINT  NOT NULL,
    PRIMARY KEY (platform, delivery_id)
);

-- Lease renewal and the recovery sweep look at open rows only.
CREATE INDEX inbox_open ON inbox (owner) WHERE state = 'accepted';
-- Pruning.
CREATE INDEX inbox_forget ON inbox (forget_after_us);
