-- Signed checkpoints of the audit chain (head and retention anchor at one moment, signed
-- with a key kept outside the store). A convenience copy: whoever owns the database can
-- delete rows here but cannot forge one; the copies `audit verify` should be given are the
-- append-only checkpoint file and the audit channel.
CREATE TABLE audit_checkpoints (
    seq         BIGINT NOT NULL,
    hash        TEXT   NOT NULL,
    anchor_seq  BIGINT NOT NULL,
    anchor_hash TEXT   NOT NULL,
    at_us       BIGINT NOT NULL,
    key_id      TEXT   NOT NULL,
    signature   TEXT   NOT NULL,
    PRIMARY KEY (key_id, at_us, seq)
);
