-- Content-addressed artifacts devices fetch from the controller (K3s binaries), so air-gapped sites
-- need nothing from the internet. The bytes live on disk under the data directory
-- (artifacts/sha256/<hex>); this table is their catalogue. Written once for SQLite and
-- PostgreSQL: portable types, epoch millis.
--
-- digest: sha256:<64 hex>. kind: what the artifact is (k3s); name: what the operator called it
-- (the uploaded file's name or kind); version and arch: what it is for (v1.20.2+k3s1, amd64).
CREATE TABLE artifacts (
  digest      VARCHAR(80)   PRIMARY KEY,
  size        BIGINT        NOT NULL,
  kind        VARCHAR(40)   NOT NULL,
  name        VARCHAR(200)  NOT NULL,
  version     VARCHAR(100)  NOT NULL,
  arch        VARCHAR(20)   NOT NULL,
  created_by  VARCHAR(200)  NOT NULL,
  created_at  BIGINT        NOT NULL
);
CREATE INDEX artifacts_kind_version ON artifacts (kind, version, arch);
