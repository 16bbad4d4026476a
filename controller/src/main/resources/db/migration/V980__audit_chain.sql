-- The audit log becomes a hash chain (decision 0034): every entry gets a sequence number, the hash
-- of the entry before it and its own hash. Entries written before this migration have none; the
-- controller chains them once, at its first start, in (at, id) order.
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN prev_hash VARCHAR(64);
ALTER TABLE audit_log ADD COLUMN hash VARCHAR(64);
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);

-- The one-row head of the chain. Every append updates it in the appending transaction, which
-- serialises appends (a row lock on PostgreSQL, the write lock on SQLite).
CREATE TABLE audit_chain (
  id              INTEGER     PRIMARY KEY,
  seq             BIGINT      NOT NULL,
  head            VARCHAR(64) NOT NULL,
  legacy_chained  INTEGER     NOT NULL,
  checkpoint_seq  BIGINT      NOT NULL,
  checkpoint_at   BIGINT      NOT NULL
);
INSERT INTO audit_chain (id, seq, head, legacy_chained, checkpoint_seq, checkpoint_at)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, 0, 0);

-- Signed statements "the chain had seq entries ending in hash at this time".
CREATE TABLE audit_checkpoints (
  seq        BIGINT       PRIMARY KEY,
  hash       VARCHAR(64)  NOT NULL,
  at         BIGINT       NOT NULL,
  key_id     VARCHAR(100) NOT NULL,
  signature  TEXT         NOT NULL
);

-- How far each SIEM sink has been delivered (the last seq it acknowledged).
CREATE TABLE audit_sink_cursors (
  sink        VARCHAR(100) PRIMARY KEY,
  seq         BIGINT       NOT NULL,
  updated_at  BIGINT       NOT NULL
);
