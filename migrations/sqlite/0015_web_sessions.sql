-- The web console's sign-in (bot/src/web/sign_in.rs): one-time links issued by the `web`
-- command and the sessions they start, in the store so that every replica honours them.
-- Only SHA-256 hashes of the tokens are kept (hex); a link is consumed by setting
-- `used_at_us` in the same statement that checks it is unused and unexpired. The identity
-- is the chat identity that asked (platform, id, name, groups one per line).
CREATE TABLE web_links (
    token_hash    TEXT   PRIMARY KEY,
    platform      TEXT   NOT NULL,
    actor_id      TEXT   NOT NULL,
    actor_name    TEXT   NOT NULL,
    actor_groups  TEXT   NOT NULL,
    created_at_us BIGINT NOT NULL,
    expires_at_us BIGINT NOT NULL,
    used_at_us    BIGINT
);
CREATE INDEX web_links_expires ON web_links (expires_at_us);

CREATE TABLE web_sessions (
    token_hash    TEXT   PRIMARY KEY,
    platform      TEXT   NOT NULL,
    actor_id      TEXT   NOT NULL,
    actor_name    TEXT   NOT NULL,
    actor_groups  TEXT   NOT NULL,
    created_at_us BIGINT NOT NULL,
    expires_at_us BIGINT NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at_us);

-- No index for the console's audit search (actor, service): each would be one more b-tree
-- insert on every command's audit append, and with three of them the pipeline bench fell
-- from ~48k to 17k commands/s (BENCHMARKS.md, `web` and `pipeline`). The search reads the
-- log newest first by `seq` and stops at a page.
