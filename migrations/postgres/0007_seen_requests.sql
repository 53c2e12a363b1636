-- Signed requests already accepted, remembered until their signature's timestamp leaves
-- the freshness window (bot/src/store/seen_requests.rs): a replay of one within the window
-- is recognised by every replica and after a restart. `source` is the kind of sender
-- (`grafana`, ...), `digest` identifies one signed request (its signature, hex).
CREATE TABLE seen_requests (
    source        TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    expires_at_us BIGINT  NOT NULL,
    PRIMARY KEY (source, digest)
);
CREATE INDEX seen_requests_expires ON seen_requests (expires_at_us);
