-- Set when a message is claimed while an earlier claim on it had lapsed without being
-- released: the dispatcher holding it died, maybe in the middle of posting it. Before
-- posting such a message again the dispatcher asks the platform whether the earlier
-- attempt went through (bot/src/outbox/dispatcher.rs, "tagged posts").
ALTER TABLE outbox ADD COLUMN claim_lost BIGINT NOT NULL DEFAULT 0;
