-- Written once for SQLite and PostgreSQL: portable types only, times as epoch milliseconds.

CREATE TABLE admin_tokens (
  id          VARCHAR(40)  PRIMARY KEY,
  name        VARCHAR(200) NOT NULL,
  token_hash  VARCHAR(100) NOT NULL UNIQUE,
  created_at  BIGINT       NOT NULL
);

CREATE TABLE onboarding_tokens (
  id                VARCHAR(40)  PRIMARY KEY,
  name              VARCHAR(200),
  token_hash        VARCHAR(100) NOT NULL UNIQUE,
  tags              TEXT         NOT NULL,
  max_uses          INTEGER,
  uses              INTEGER      NOT NULL DEFAULT 0,
  expires_at        BIGINT,
  require_approval  BOOLEAN      NOT NULL,
  revoked           BOOLEAN      NOT NULL DEFAULT FALSE,
  created_at        BIGINT       NOT NULL
);

CREATE TABLE preregistrations (
  serial            VARCHAR(200) PRIMARY KEY,
  name              VARCHAR(200),
  tags              TEXT         NOT NULL,
  require_approval  BOOLEAN      NOT NULL,
  device_id         VARCHAR(40),
  created_at        BIGINT       NOT NULL
);

-- lifecycle: PENDING (awaiting approval), ACTIVE, REJECTED, DECOMMISSIONED.
CREATE TABLE devices (
  id                      VARCHAR(40)  PRIMARY KEY,
  name                    VARCHAR(200) NOT NULL,
  serial                  VARCHAR(200),
  lifecycle               VARCHAR(20)  NOT NULL,
  enrollment_code         VARCHAR(20)  NOT NULL UNIQUE,
  key_fingerprint         VARCHAR(80)  NOT NULL UNIQUE,
  public_key              TEXT         NOT NULL,
  certificate_pem         TEXT,
  certificate_serial      VARCHAR(64),
  certificate_expires_at  BIGINT,
  tags                    TEXT         NOT NULL,
  facts                   TEXT         NOT NULL,
  agent_version           VARCHAR(64),
  onboarding_token_id     VARCHAR(40),
  created_at              BIGINT       NOT NULL,
  enrolled_at             BIGINT,
  decommissioned_at       BIGINT,
  updated_at              BIGINT       NOT NULL
);
CREATE INDEX devices_serial ON devices (serial);

-- Presence is written in batches by the controller, never per heartbeat.
CREATE TABLE device_presence (
  device_id  VARCHAR(40) PRIMARY KEY,
  last_seen  BIGINT      NOT NULL
);

CREATE TABLE revoked_certificates (
  serial      VARCHAR(64)  PRIMARY KEY,
  device_id   VARCHAR(40)  NOT NULL,
  revoked_at  BIGINT       NOT NULL,
  reason      VARCHAR(200) NOT NULL
);

CREATE TABLE audit_log (
  id       VARCHAR(40)  PRIMARY KEY,
  at       BIGINT       NOT NULL,
  actor    VARCHAR(200) NOT NULL,
  action   VARCHAR(100) NOT NULL,
  target   VARCHAR(200) NOT NULL,
  detail   TEXT         NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
