-- Deployments of catalog apps and the phased rollouts that move devices from one revision of an
-- app to the next. Written once for SQLite and PostgreSQL: portable types, epoch millis.

-- A catalog app version deployed, with last-minute values, to the devices a selector matches.
-- name is the app's name on the devices; revision is what devices report running.
CREATE TABLE deployments (
  name        VARCHAR(63)   PRIMARY KEY,
  app         VARCHAR(63)   NOT NULL,
  version     VARCHAR(64)   NOT NULL,
  revision    VARCHAR(100)  NOT NULL,
  target      TEXT          NOT NULL,
  vals        TEXT          NOT NULL,
  policy      TEXT          NOT NULL,
  created_by  VARCHAR(200)  NOT NULL,
  created_at  BIGINT        NOT NULL,
  updated_at  BIGINT        NOT NULL
);

-- One rollout of one subject ("catalog/<deployment>" or "<git source>/<app>") to a revision.
-- The latest rollout of a subject governs what its devices get; older ones are history.
CREATE TABLE rollouts (
  id               VARCHAR(40)   PRIMARY KEY,
  seq              BIGINT        NOT NULL,
  subject          VARCHAR(200)  NOT NULL,
  app              VARCHAR(63)   NOT NULL,
  source           VARCHAR(200)  NOT NULL,
  from_revision    VARCHAR(100),
  to_revision      VARCHAR(100)  NOT NULL,
  policy           TEXT          NOT NULL,
  state            VARCHAR(20)   NOT NULL,
  batch            INTEGER       NOT NULL,
  reason           TEXT          NOT NULL,
  created_by       VARCHAR(200)  NOT NULL,
  created_at       BIGINT        NOT NULL,
  updated_at       BIGINT        NOT NULL,
  finished_at      BIGINT
);
CREATE INDEX rollouts_subject ON rollouts (subject, seq);
CREATE INDEX rollouts_state ON rollouts (state);

-- The planned batches of a rollout, in order.
CREATE TABLE rollout_batches (
  rollout_id        VARCHAR(40)  NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
  idx               INTEGER      NOT NULL,
  name              VARCHAR(200) NOT NULL,
  success_percent   INTEGER      NOT NULL,
  failure_percent   INTEGER      NOT NULL,
  soak_ms           BIGINT       NOT NULL,
  deadline_ms       BIGINT       NOT NULL,
  state             VARCHAR(20)  NOT NULL,
  started_at        BIGINT,
  soak_until        BIGINT,
  finished_at       BIGINT,
  reason            TEXT,
  PRIMARY KEY (rollout_id, idx)
);

-- Every device of a rollout: its batch, whether it was released to the new revision, and what it
-- was told to run before (NULL bundle: nothing), which is where a rollback returns it.
CREATE TABLE rollout_devices (
  rollout_id     VARCHAR(40)   NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
  device_id      VARCHAR(40)   NOT NULL,
  batch          INTEGER       NOT NULL,
  state          VARCHAR(20)   NOT NULL,
  prev_revision  VARCHAR(100),
  prev_bundle    VARCHAR(80),
  released_at    BIGINT,
  PRIMARY KEY (rollout_id, device_id)
);
CREATE INDEX rollout_devices_device ON rollout_devices (device_id);

-- Every transition of a rollout, in order.
CREATE TABLE rollout_events (
  id          VARCHAR(40)  PRIMARY KEY,
  rollout_id  VARCHAR(40)  NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
  seq         BIGINT       NOT NULL,
  at          BIGINT       NOT NULL,
  kind        VARCHAR(40)  NOT NULL,
  batch       INTEGER,
  message     TEXT         NOT NULL
);
CREATE INDEX rollout_events_rollout ON rollout_events (rollout_id, seq);

-- A rollback returns released devices to what they ran before; it started at this time.
ALTER TABLE rollouts ADD COLUMN rollback_at BIGINT;

-- A git source whose apps are rolled out in phases: the policy text (YAML), or NULL for at once.
ALTER TABLE git_sources ADD COLUMN rollout_policy TEXT;
