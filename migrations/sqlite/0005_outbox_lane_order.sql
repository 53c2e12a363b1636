-- The dispatcher's claim walks a lane's pending messages in id order and stops after a
-- bounded window (bot/src/outbox/repo.rs, claim_heads): without this index it sorted
-- every due row on each claim, so delivery slowed as the backlog grew.
CREATE INDEX outbox_lane_order ON outbox (lane, id) WHERE state = 'pending';
