-- The newest incident a storm board's last render showed (bot/src/incidents/storm/
-- keeper.rs): a board that gained incidents since is edited again sooner than
-- `board_interval`, so a folded incident shows within seconds; one whose counts changed
-- only waits for the interval.
ALTER TABLE storm_boards ADD COLUMN shown_through BIGINT NOT NULL DEFAULT 0;
