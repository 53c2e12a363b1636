-- The outbox's live leases (a delivery in flight), per lane: a claim leaves out every
-- channel with one, whichever replica holds it (`bot/src/outbox/repo.rs`, `claim_heads`),
-- so each channel has one delivery at a time across replicas. Released, delivered and
-- rescheduled messages have no `claimed_until_us`, so the index holds only what is in
-- flight (or was, until its lease runs out, when its dispatcher died).
CREATE INDEX outbox_live_claims ON outbox (lane, claimed_until_us)
    WHERE state = 'pending' AND claimed_until_us IS NOT NULL;
