-- Device trust: the TPM identity of devices enrolled with one, their measured-boot reference and
-- the trust the controller judges from their quotes; references pinned per hardware model or tag;
-- TPM requirements on onboarding credentials; apps that keep running in quarantine. Written once
-- for SQLite and PostgreSQL: portable types only, times as epoch milliseconds, binary as base64.

-- One row per device enrolled with a TPM (software-key devices have none). state: TRUSTED,
-- QUARANTINED or UNVERIFIED. The current measurements are kept only while they differ from the
-- reference (for the difference an operator reviews), so a row stays about one event log large.
CREATE TABLE device_trust (
  device_id            VARCHAR(40)   PRIMARY KEY,
  ek_fingerprint       VARCHAR(80)   NOT NULL,
  ek_issuer            VARCHAR(500)  NOT NULL,
  ak_public            TEXT          NOT NULL,
  pcr_selection        VARCHAR(100)  NOT NULL,
  reference_pcrs       TEXT          NOT NULL,
  reference_event_log  TEXT,
  reference_source     VARCHAR(20)   NOT NULL,
  reference_at         BIGINT        NOT NULL,
  current_pcrs         TEXT,
  current_event_log    TEXT,
  state                VARCHAR(20)   NOT NULL,
  reason               TEXT,
  since                BIGINT        NOT NULL,
  last_attested        BIGINT,
  updated_at           BIGINT        NOT NULL
);
CREATE INDEX device_trust_ek ON device_trust (ek_fingerprint);

-- Measurements an operator pinned as the reference of every device of a hardware model
-- (scope 'model', match_value '') or with a tag (scope 'tag', match_key = match_value).
CREATE TABLE trust_references (
  id             VARCHAR(40)   PRIMARY KEY,
  scope          VARCHAR(10)   NOT NULL,
  match_key      VARCHAR(300)  NOT NULL,
  match_value    VARCHAR(300)  NOT NULL,
  pcrs           TEXT          NOT NULL,
  event_log      TEXT,
  source_device  VARCHAR(40)   NOT NULL,
  created_by     VARCHAR(200)  NOT NULL,
  created_at     BIGINT        NOT NULL
);
CREATE UNIQUE INDEX trust_references_match ON trust_references (scope, match_key, match_value);

-- Credentials that admit only devices whose key lives in a TPM.
ALTER TABLE onboarding_tokens ADD COLUMN require_tpm BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE preregistrations ADD COLUMN require_tpm BOOLEAN NOT NULL DEFAULT FALSE;

-- Deployments whose app keeps running on a quarantined device.
ALTER TABLE deployments ADD COLUMN keep_in_quarantine BOOLEAN NOT NULL DEFAULT FALSE;
