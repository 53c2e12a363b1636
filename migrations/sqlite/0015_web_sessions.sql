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

-- The console's audit search (bot/src/web/audit_page.rs) filters by actor or service and
-- reads newest first; without these a filter that matches few entries scans the whole log
-- (with 1,000,000 entries: half a second). Each is one more b-tree insert per audit
-- append, in the writer's batched transaction (BENCHMARKS.md, `web` and `pipeline`).
CREATE INDEX audit_log_actor_id ON audit_log (actor_id, seq);
CREATE INDEX audit_log_actor_name ON audit_log (actor_name, seq);
CREATE INDEX audit_log_service ON audit_log (service, seq);
