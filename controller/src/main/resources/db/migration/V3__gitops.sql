-- GitOps: git sources, the heads the controller recorded, and the application directories of
-- every applied commit. Written once for SQLite and PostgreSQL: portable types, epoch millis.

-- Credentials and webhook secrets are sealed with the controller's secret key (AES-256-GCM).
-- seen_sha is the last remote head processed (applied or refused); head_sha the commit in effect.
CREATE TABLE git_sources (
  name            VARCHAR(63)   PRIMARY KEY,
  url             VARCHAR(2000) NOT NULL,
  branch          VARCHAR(255)  NOT NULL,
  path            VARCHAR(1000) NOT NULL,
  interval_ms     BIGINT        NOT NULL,
  auth            VARCHAR(10)   NOT NULL,
  credential      TEXT,
  ssh_host_key    TEXT,
  target          TEXT          NOT NULL,
  webhook_secret  TEXT          NOT NULL,
  head_sha        VARCHAR(64),
  seen_sha        VARCHAR(64),
  seen_error      TEXT,
  last_polled_at  BIGINT,
  last_error      TEXT,
  created_at      BIGINT        NOT NULL,
  updated_at      BIGINT        NOT NULL
);

-- One row per head the controller saw, in order (seq per source); the same sha may appear again
-- after a force-push back. diff is JSON: the per-application changes against the previous head.
CREATE TABLE git_commits (
  id            VARCHAR(40)  PRIMARY KEY,
  source        VARCHAR(63)  NOT NULL REFERENCES git_sources (name) ON DELETE CASCADE,
  seq           BIGINT       NOT NULL,
  sha           VARCHAR(64)  NOT NULL,
  author        VARCHAR(500) NOT NULL,
  message       TEXT         NOT NULL,
  committed_at  BIGINT       NOT NULL,
  recorded_at   BIGINT       NOT NULL,
  status        VARCHAR(10)  NOT NULL,
  error         TEXT,
  diff          TEXT         NOT NULL,
  UNIQUE (source, seq)
);
CREATE INDEX git_commits_sha ON git_commits (source, sha);

-- Application directory contents, shared by every commit (and source) with the same git tree id.
-- files is JSON: relative path -> base64 content.
CREATE TABLE git_app_trees (
  tree_id     VARCHAR(64) PRIMARY KEY,
  files       TEXT        NOT NULL,
  size        BIGINT      NOT NULL,
  created_at  BIGINT      NOT NULL
);

-- The applications of every applied commit.
CREATE TABLE git_apps (
  source   VARCHAR(63) NOT NULL REFERENCES git_sources (name) ON DELETE CASCADE,
  sha      VARCHAR(64) NOT NULL,
  name     VARCHAR(63) NOT NULL,
  kind     VARCHAR(10) NOT NULL,
  tree_id  VARCHAR(64) NOT NULL REFERENCES git_app_trees (tree_id),
  PRIMARY KEY (source, sha, name)
);
CREATE INDEX git_apps_tree ON git_apps (tree_id);
