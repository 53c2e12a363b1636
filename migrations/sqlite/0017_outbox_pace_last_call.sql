-- When the last chat call on each channel was let go (`bot/src/outbox/shared_pace.rs`,
-- unix microseconds, the database's clock). A reserved slot says when a replica may try;
-- claiming the call against this column makes sure no two calls on a channel leave less
-- than one period apart, however late a replica woke for its slot.
ALTER TABLE outbox_pace ADD COLUMN last_call_us BIGINT NOT NULL DEFAULT 0;
