-- One pace per channel across replicas (`bot/src/outbox/shared_pace.rs`): the next free
-- chat-call slot of each `platform/channel` and until when a platform's `Retry-After`
-- holds it, in unix microseconds. Replicas on one PostgreSQL reserve their slots here;
-- a single SQLite process paces in memory and leaves this table empty.
CREATE TABLE outbox_pace (
    channel_key      TEXT   PRIMARY KEY,
    next_slot_us     BIGINT NOT NULL,
    blocked_until_us BIGINT NOT NULL DEFAULT 0
);
