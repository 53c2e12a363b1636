-- When the last chat call on each channel was answered (`bot/src/outbox/shared_pace.rs`,
-- unix microseconds, the database's clock). The platform counts a call at some moment
-- between when it was let go (`last_call_us`) and when it was answered; the next call
-- on the channel is let go only a period after the answer, so however long a call took
-- on its way, two calls never reach the platform less than a period apart.
ALTER TABLE outbox_pace ADD COLUMN answered_us BIGINT NOT NULL DEFAULT 0;
