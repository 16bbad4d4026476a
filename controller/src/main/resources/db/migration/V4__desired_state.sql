-- Rendered application manifests, addressed by the SHA-256 of their bytes; immutable.
CREATE TABLE bundles (
  digest      VARCHAR(80) PRIMARY KEY,
  content     TEXT        NOT NULL,
  size        BIGINT      NOT NULL,
  created_at  BIGINT      NOT NULL
);

-- The signed desired state of each device. generation strictly increases.
CREATE TABLE device_desired (
  device_id    VARCHAR(40)  PRIMARY KEY,
  generation   BIGINT       NOT NULL,
  fingerprint  VARCHAR(80)  NOT NULL,
  payload      TEXT         NOT NULL,
  signature    VARCHAR(200) NOT NULL,
  updated_at   BIGINT       NOT NULL
);

-- Per device and application: what it should run and what it reports it runs.
CREATE TABLE device_apps (
  device_id         VARCHAR(40)  NOT NULL,
  app               VARCHAR(200) NOT NULL,
  source            VARCHAR(200) NOT NULL,
  desired_revision  VARCHAR(100) NOT NULL,
  desired_bundle    VARCHAR(80),
  desired_since     BIGINT       NOT NULL,
  render_error      TEXT,
  running_revision  VARCHAR(100),
  phase             VARCHAR(20),
  reason            TEXT,
  reported_at       BIGINT,
  PRIMARY KEY (device_id, app)
);
CREATE INDEX device_apps_app ON device_apps (app);

-- What devices told the controller happened to them (refused documents, apply failures).
CREATE TABLE device_events (
  id         VARCHAR(40)  PRIMARY KEY,
  device_id  VARCHAR(40)  NOT NULL,
  at         BIGINT       NOT NULL,
  kind       VARCHAR(100) NOT NULL,
  message    TEXT         NOT NULL
);
CREATE INDEX device_events_device ON device_events (device_id, at);
