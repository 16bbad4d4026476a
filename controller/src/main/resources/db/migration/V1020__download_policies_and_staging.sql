-- Download policies, staging ahead of a release, and what devices report of their artifacts.
-- Portable types, epoch millis.
--
-- download_policies: when and how much the devices a selector picks may download artifacts.
-- windows: daily windows 'HH:MM-HH:MM' joined by ',' (empty: at any time); zone: an IANA zone id;
-- bytes_per_day: 0 for no budget. The highest priority among the policies that pick a device
-- applies to it (ties: the first name in order).
CREATE TABLE download_policies (
  name           VARCHAR(63)   PRIMARY KEY,
  selector       VARCHAR(2000) NOT NULL,
  bytes_per_day  BIGINT        NOT NULL,
  windows        VARCHAR(1000) NOT NULL,
  zone           VARCHAR(64)   NOT NULL,
  priority       INTEGER       NOT NULL,
  description    VARCHAR(500),
  created_at     BIGINT        NOT NULL,
  created_by     VARCHAR(200)  NOT NULL,
  updated_at     BIGINT        NOT NULL,
  updated_by     VARCHAR(200)  NOT NULL
);

-- device_stages: per device and app, the artifacts of the revision a rollout holds back from the
-- device, which its desired state tells it to download ahead (JSON list of {digest, size}).
CREATE TABLE device_stages (
  device_id  VARCHAR(64)   NOT NULL,
  app        VARCHAR(200)  NOT NULL,
  revision   VARCHAR(200)  NOT NULL,
  artifacts  TEXT          NOT NULL,
  PRIMARY KEY (device_id, app)
);

-- device_artifact_reports: the latest report of each device of the artifacts it holds and
-- fetches (held: JSON list of digests; fetching: JSON list of {digest, size, bytes}), written
-- only when it changes.
CREATE TABLE device_artifact_reports (
  device_id    VARCHAR(64)   PRIMARY KEY,
  held         TEXT          NOT NULL,
  fetching     TEXT          NOT NULL,
  waiting      VARCHAR(500),
  reported_at  BIGINT        NOT NULL
);
