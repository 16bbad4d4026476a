-- Signed releases of the agent itself and what devices report of their agent slots. Written once
-- for SQLite and PostgreSQL: portable types, epoch millis.
--
-- agent_releases: one row per version and CPU architecture; the bytes are an artifact of kind
-- agent (artifacts.digest). key_id and signature are the release key's Ed25519 signature over the
-- version, architecture, digest and size (AgentRelease.statement), handed to devices as they are.
CREATE TABLE agent_releases (
  version     VARCHAR(64)   NOT NULL,
  arch        VARCHAR(20)   NOT NULL,
  digest      VARCHAR(80)   NOT NULL,
  size        BIGINT        NOT NULL,
  key_id      VARCHAR(40)   NOT NULL,
  signature   VARCHAR(200)  NOT NULL,
  main_class  VARCHAR(200)  NOT NULL,
  pushed_by   VARCHAR(200)  NOT NULL,
  pushed_at   BIGINT        NOT NULL,
  PRIMARY KEY (version, arch)
);
CREATE INDEX agent_releases_digest ON agent_releases (digest);

-- The last AgentSlots report of each device. active: a or b, null when the agent does not run
-- from slots. update_*: the last update attempt (phase downloading, staged, trial, confirmed,
-- rolled-back or refused, with its reason), null when none was reported.
CREATE TABLE agent_slot_reports (
  device_id       VARCHAR(64)    PRIMARY KEY,
  active          VARCHAR(1),
  slot_a          VARCHAR(64),
  slot_b          VARCHAR(64),
  update_version  VARCHAR(64),
  update_phase    VARCHAR(20),
  update_reason   VARCHAR(1000),
  update_bytes    BIGINT,
  update_total    BIGINT,
  update_at       BIGINT,
  reported_at     BIGINT         NOT NULL
);

-- What the operator rolled the agent out to, newest last (seq): the version, the devices (a
-- selector) and the version before, which a rollback returns devices to. The rollout itself is the
-- rollout engine's (subject agent-releases/edgefleet-agent).
CREATE TABLE agent_targets (
  seq           BIGINT         PRIMARY KEY,
  version       VARCHAR(64)    NOT NULL,
  selector      VARCHAR(2000)  NOT NULL,
  rollout_id    VARCHAR(40)    NOT NULL,
  created_by    VARCHAR(200)   NOT NULL,
  created_at    BIGINT         NOT NULL
);
