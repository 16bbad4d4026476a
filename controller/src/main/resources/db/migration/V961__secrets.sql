-- Secrets delivered to devices, encrypted at rest with envelope encryption. Written once for
-- SQLite and PostgreSQL: portable types, epoch millis.
--
-- One row per secret at its current version. value_sealed is the JSON object of the secret's keys
-- to base64 values, AES-256-GCM under a data key of its own (fresh for every version);
-- data_key_wrapped is that data key, AES-256-GCM under the master key master_key_id (a key of the
-- master key file). key_names (JSON list) and size are metadata: no value is ever stored in the
-- clear. target: the device selector, canonical form.
CREATE TABLE secrets (
  name              VARCHAR(253)  PRIMARY KEY,
  namespace         VARCHAR(63)   NOT NULL,
  target            TEXT          NOT NULL,
  version           BIGINT        NOT NULL,
  key_names         TEXT          NOT NULL,
  size              INTEGER       NOT NULL,
  master_key_id     VARCHAR(16)   NOT NULL,
  data_key_wrapped  TEXT          NOT NULL,
  value_sealed      TEXT          NOT NULL,
  created_by        VARCHAR(200)  NOT NULL,
  created_at        BIGINT        NOT NULL,
  updated_by        VARCHAR(200)  NOT NULL,
  updated_at        BIGINT        NOT NULL
);
CREATE INDEX secrets_master_key ON secrets (master_key_id);
