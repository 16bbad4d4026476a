-- K3s clusters formed by the controller from devices chosen by tag, and their members. Written
-- once for SQLite and PostgreSQL: portable types, epoch millis.
--
-- name: a DNS label. selector: the device selector, canonical form. profile: NAME or NAME@N, null
-- when none. labels and config: JSON objects. token_sealed: the join token, AES-256-GCM under the
-- secrets' master key token_key_id, bound to the cluster's name and token_version. state and
-- reasons (JSON list of sentences): what the last plan found. applier: the member that applies
-- the cluster's apps.
CREATE TABLE clusters (
  name                 VARCHAR(63)   PRIMARY KEY,
  selector             TEXT          NOT NULL,
  servers_min          INTEGER       NOT NULL,
  servers_max          INTEGER       NOT NULL,
  agents_min           INTEGER       NOT NULL,
  agents_max           INTEGER       NOT NULL,
  kubernetes_version   VARCHAR(100)  NOT NULL,
  profile              VARCHAR(120),
  labels               TEXT          NOT NULL,
  config               TEXT          NOT NULL,
  grace_seconds        BIGINT        NOT NULL,
  import_manifest_url  VARCHAR(2000),
  state                VARCHAR(20)   NOT NULL,
  reasons              TEXT          NOT NULL,
  applier              VARCHAR(40),
  deactivated          INTEGER       NOT NULL,
  token_key_id         VARCHAR(16)   NOT NULL,
  token_sealed         TEXT          NOT NULL,
  token_version        BIGINT        NOT NULL,
  created_by           VARCHAR(200)  NOT NULL,
  created_at           BIGINT        NOT NULL,
  updated_at           BIGINT        NOT NULL
);

-- One row per member; a device is a member of one cluster at most. role: server or agent.
-- removing_since: when its removal started (null for a member in good standing). last_report: the
-- latest cluster-node report (JSON), written at most every few seconds.
CREATE TABLE cluster_members (
  cluster             VARCHAR(63)   NOT NULL,
  device_id           VARCHAR(40)   NOT NULL,
  node_name           VARCHAR(253)  NOT NULL,
  role                VARCHAR(10)   NOT NULL,
  init_server         INTEGER       NOT NULL,
  joined_at           BIGINT        NOT NULL,
  kubernetes_version  VARCHAR(100),
  removing_since      BIGINT,
  phase               VARCHAR(20),
  last_report         TEXT,
  last_report_at      BIGINT,
  PRIMARY KEY (device_id)
);
CREATE INDEX cluster_members_cluster ON cluster_members (cluster);
