-- 0011_storm_boards (SQLite): the storm roll-up (bot/src/incidents/storm/). While a
-- channel's queued chat work would take longer than its horizon to drain, incidents
-- opened for it get no root message of their own: they are folded into the channel's
-- one open storm board, a message (continued in more pages when full) edited in place.
-- Everything here is in the store, so a restart or another replica continues the board.

-- One board per storm and channel. `pages` board messages were posted, under the
-- outbox thread keys `storm:ID:0`, `storm:ID:1`, … (their platform message ids are in
-- `outbox_threads`). `revision` counts renders (one replica renders each), `rendered`
-- is a digest of the newest render, so an unchanged board is not edited again.
CREATE TABLE storm_boards (
    id             INTEGER PRIMARY KEY,
    platform       TEXT    NOT NULL,
    channel        TEXT    NOT NULL,
    opened_at_us   BIGINT  NOT NULL,
    closed_at_us   BIGINT,
    pages          BIGINT  NOT NULL DEFAULT 0,
    revision       BIGINT  NOT NULL DEFAULT 0,
    rendered       TEXT,
    rendered_at_us BIGINT
);
-- At most one open board per channel: replicas opening one at once share it.
CREATE UNIQUE INDEX storm_boards_open ON storm_boards (platform, channel)
    WHERE closed_at_us IS NULL;

-- Which board an incident's message target was folded into (NULL: never), and whether
-- it still is (1) or has its own root and thread since (0).
ALTER TABLE incident_messages ADD COLUMN storm_board BIGINT;
ALTER TABLE incident_messages ADD COLUMN folded BIGINT NOT NULL DEFAULT 0;
CREATE INDEX incident_messages_storm ON incident_messages (storm_board, folded)
    WHERE storm_board IS NOT NULL;

-- The backlog estimate: a channel's pending chat calls, by thread and operation
-- (bot/src/incidents/storm/backlog.rs), read from the index alone.
CREATE INDEX outbox_channel_work ON outbox (platform, channel, lane, thread_key, operation)
    WHERE state = 'pending';
