-- Revisions of services that passed opsbot's health gate (bot/src/store/known_good.rs),
-- for `rollback SERVICE --to last-good`. A revision is identified by what stays when a
-- rollback renumbers it (`revision_id`: the Kubernetes ReplicaSet's name); `revision` is
-- its number when it last passed, `images` its container images (one per line). The
-- newest passes per service are kept (the store prunes older ones when it records one).
CREATE TABLE known_good_revisions (
    service      TEXT   NOT NULL,
    environment  TEXT   NOT NULL,
    revision_id  TEXT   NOT NULL,
    revision     BIGINT NOT NULL,
    images       TEXT   NOT NULL,
    passed_at_us BIGINT NOT NULL,
    passed_by    TEXT   NOT NULL,
    PRIMARY KEY (service, environment, revision_id)
);
CREATE INDEX known_good_revisions_latest
    ON known_good_revisions (service, environment, passed_at_us);
