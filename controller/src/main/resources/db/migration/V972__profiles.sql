-- Layered cluster profiles. Written once for SQLite and PostgreSQL: portable types, epoch millis.
--
-- profiles: one row per profile; selector is the cluster selector (over cluster labels and the
-- key "name" for the cluster's name), canonical form.
-- profile_versions: immutable versions; layers is the JSON list of layers in the order they are
-- applied; policy is the rollout policy text the version was published with.
CREATE TABLE profiles (
  name        VARCHAR(63)   PRIMARY KEY,
  selector    TEXT          NOT NULL,
  description TEXT          NOT NULL,
  created_by  VARCHAR(200)  NOT NULL,
  created_at  BIGINT        NOT NULL
);

CREATE TABLE profile_versions (
  profile     VARCHAR(63)   NOT NULL,
  version     INTEGER       NOT NULL,
  layers      TEXT          NOT NULL,
  policy      TEXT          NOT NULL,
  created_by  VARCHAR(200)  NOT NULL,
  created_at  BIGINT        NOT NULL,
  PRIMARY KEY (profile, version)
);

-- Cluster-scoped deployments: 'device' (every device the target selects) or 'cluster' (once per
-- K3s cluster, on the member carrying cluster.edgefleet.io/applier=true).
ALTER TABLE deployments ADD COLUMN scope VARCHAR(16) NOT NULL DEFAULT 'device';
